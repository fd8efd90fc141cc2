#include "server/chat_page.h"

namespace medassist::server {

// One self-contained page: no external scripts, so it works offline and under a strict CSP.
std::string_view ChatPageHtml() {
  static constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>medassist</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
#log div{white-space:pre-wrap;margin:.6rem 0;padding:.5rem .7rem;border-radius:.4rem}
.user{background:#eef}.assistant{background:#f4f4f4}.reasoning{color:#666;font-size:.9em}
form{display:flex;gap:.5rem}textarea{flex:1;height:4rem}small{color:#666}
</style></head><body>
<h1>medassist</h1>
<p><small>Not a substitute for professional medical care. In an emergency, call your local
emergency number. API: <a href="/docs">/docs</a></small></p>
<p><input id="key" type="password" placeholder="API key (if the server has one)" size="40"></p>
<div id="log"></div>
<form id="f"><textarea id="q" placeholder="Ask a medical question"></textarea>
<button>Send</button></form>
<script>
const log = document.getElementById('log'), messages = [];
function add(cls, text) { const d = document.createElement('div'); d.className = cls;
  d.textContent = text; log.appendChild(d); return d; }
document.getElementById('f').onsubmit = async (ev) => {
  ev.preventDefault();
  const q = document.getElementById('q'); if (!q.value.trim()) return;
  messages.push({role: 'user', content: q.value}); add('user', q.value); q.value = '';
  const out = add('assistant', ''), why = add('reasoning', '');
  const headers = {'Content-Type': 'application/json'};
  const key = document.getElementById('key').value; if (key) headers.Authorization = 'Bearer ' + key;
  const r = await fetch('/v1/chat/completions', {method: 'POST', headers,
    body: JSON.stringify({messages, stream: true})});
  if (!r.ok) { out.textContent = 'Error: ' + (await r.text()); return; }
  const reader = r.body.getReader(), dec = new TextDecoder(); let buf = '', answer = '';
  for (;;) {
    const {value, done} = await reader.read(); if (done) break;
    buf += dec.decode(value, {stream: true});
    let i; while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i); buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const c = JSON.parse(ev.slice(6));
      if (c.error) { out.textContent += '\n[' + c.error.message + ']'; continue; }
      const d = (c.choices[0] || {}).delta || {};
      if (d.reasoning_content) why.textContent += d.reasoning_content;
      if (d.content) { answer += d.content; out.textContent = answer; }
    }
  }
  messages.push({role: 'assistant', content: answer});
};
</script></body></html>
)HTML";
  return kPage;
}

}  // namespace medassist::server
