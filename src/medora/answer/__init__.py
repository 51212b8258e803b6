"""Answers: classify the question, select cited evidence sentences, compose and render the article."""
