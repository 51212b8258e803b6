"""Commands from the publishing and evaluation modules load only when used, and still work through `medora`."""

import subprocess
import sys

from click.testing import CliRunner

from medora.cli import main


def test_start_up_does_not_import_publishing_or_answer_evaluation():
    code = "import sys, medora.cli; print(sorted(m for m in sys.modules if m.startswith(('medora.publish', 'medora.eval.answers'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_lazy_commands_are_listed_and_run():
    runner = CliRunner()
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0
    for name in ("serve", "review", "articles", "users", "tokens"):
        assert f"  {name} " in listing.output
    users = runner.invoke(main, ["users", "--help"])
    assert users.exit_code == 0 and "add" in users.output and "disable" in users.output
    answers = runner.invoke(main, ["eval", "answers", "--help"])
    assert answers.exit_code == 0 and "EVAL_DIR" in answers.output
