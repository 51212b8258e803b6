// Medora's only script. It streams answers into the page as they are built, and lets Escape
// dismiss a citation tooltip. Everything works without it: forms post normally, and tooltips
// show on hover and keyboard focus through CSS.
'use strict';

const STREAM_URL = '/ask/stream';

function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { event, data: data.length ? JSON.parse(data.join('\n')) : {} };
}

async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, '\n');
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      onEvent(parseEvent(buffer.slice(0, cut)));
      buffer = buffer.slice(cut + 2);
    }
  }
}

function showPrintButtons(root) {
  root.querySelectorAll('[data-print][hidden]').forEach((button) => { button.hidden = false; });
}

function submitNormally(form, submitter) {
  form.dataset.streaming = 'off';
  form.requestSubmit(submitter || undefined);
}

function setBusy(form, busy) {
  form.querySelectorAll('button[type=submit]').forEach((button) => { button.disabled = busy; });
}

async function streamAnswer(form, submitter) {
  const target = document.getElementById('answer');
  const status = document.getElementById('answer-status');
  const body = new URLSearchParams(new FormData(form, submitter));
  setBusy(form, true);
  let response;
  try {
    response = await fetch(STREAM_URL, {
      method: 'POST', body, credentials: 'same-origin', headers: { Accept: 'text/event-stream' },
    });
  } catch (error) {
    response = null;
  }
  if (!response || !response.ok || !response.body) {
    setBusy(form, false);
    submitNormally(form, submitter);
    return;
  }
  status.textContent = 'Asking Medora…';
  target.replaceChildren();
  target.setAttribute('aria-busy', 'true');
  target.scrollIntoView({ block: 'start' });
  await readEvents(response, ({ event, data }) => {
    if (event === 'stage' || event === 'error') status.textContent = data.text || data.message;
    if (event === 'fragment') target.insertAdjacentHTML('beforeend', data.html);
  });
  target.removeAttribute('aria-busy');
  showPrintButtons(target);
  setBusy(form, false);
  const title = target.querySelector('h1');
  if (title) {
    document.title = `${title.textContent} · Medora`;
    title.focus({ preventScroll: true });
  }
}

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!form.matches('form[data-stream]') || form.dataset.streaming === 'off') return;
  if (!window.fetch || !window.TextDecoderStream || !document.getElementById('answer')) return;
  event.preventDefault();
  streamAnswer(form, event.submitter);
});

document.addEventListener('click', (event) => {
  if (event.target.closest('[data-print]')) window.print();
});

// Escape hides the tooltip under the pointer or focus; it shows again once pointer or focus leave.
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  document.querySelectorAll('.cite').forEach((cite) => {
    if (cite.matches(':hover') || cite.contains(document.activeElement)) cite.classList.add('dismissed');
  });
});

function undismiss(event) {
  const cite = event.target.closest && event.target.closest('.cite');
  if (cite && !cite.contains(event.relatedTarget)) cite.classList.remove('dismissed');
}

document.addEventListener('focusout', undismiss);
document.addEventListener('mouseout', undismiss);
document.addEventListener('DOMContentLoaded', () => showPrintButtons(document));
