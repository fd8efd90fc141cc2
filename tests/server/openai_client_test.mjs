// The official `openai` npm client (web/package.json pins it) against a running medassist server
// serving assets/demo/stories260K.gguf. Plain Node ESM, no framework: exit 0 = pass; a failed
// assertion exits 1 with its message. openai_client_test.sh starts the server and runs this.
//
//   MEDASSIST_URL=http://127.0.0.1:8000 MEDASSIST_API_KEY=test-key \
//   MEDASSIST_MODEL=assets/demo/stories260K.gguf node tests/server/openai_client_test.mjs
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Resolve `openai` from web/node_modules (this file lives in tests/server/, not under web/).
const here = path.dirname(fileURLToPath(import.meta.url));
const requireFromWeb = createRequire(path.join(here, '..', '..', 'web', 'package.json'));
const { default: OpenAI } = await import(requireFromWeb.resolve('openai'));

const baseURL = process.env.MEDASSIST_URL;
const apiKey = process.env.MEDASSIST_API_KEY;
const servedModel = process.env.MEDASSIST_MODEL;  // what /v1/models lists
assert.ok(baseURL, 'MEDASSIST_URL is not set (the server, e.g. http://127.0.0.1:8000)');
assert.ok(apiKey, 'MEDASSIST_API_KEY is not set');

// No retries: a failure must show as itself, at once.
const options = { baseURL: baseURL + '/v1', maxRetries: 0, timeout: 60_000 };
const client = new OpenAI({ ...options, apiKey });

// The original API's example body.
const chatBody = {
  model: 'your-model',
  messages: [{ role: 'user', content: 'Given the symptoms of sudden weakness in the left arm and leg' }],
  max_tokens: 64,
  temperature: 0.7,
  top_p: 0.9,
};

const tests = [];
function test(name, fn) { tests.push({ name, fn }); }

function checkUsage(usage, what) {
  assert.ok(usage, `${what}: usage is missing`);
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0,
            `${what}: prompt_tokens ${usage.prompt_tokens}`);
  assert.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens > 0,
            `${what}: completion_tokens ${usage.completion_tokens}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens,
               `${what}: total_tokens is not prompt_tokens + completion_tokens`);
}

test('chat.completions.create (the original example body)', async () => {
  const r = await client.chat.completions.create(chatBody);
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'your-model');
  assert.ok(Number.isInteger(r.created) && r.created > 0, `created ${r.created}`);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(typeof c.message.content, 'string');
  assert.ok(['stop', 'length'].includes(c.finish_reason), `finish_reason ${c.finish_reason}`);
  checkUsage(r.usage, 'chat');
  assert.ok(r.usage.completion_tokens <= 64, `completion_tokens ${r.usage.completion_tokens} > 64`);
});

test('chat.completions.create stream (include_usage) matches the non-streaming answer', async () => {
  const body = { ...chatBody, temperature: 0, seed: 1234 };
  const whole = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({
    ...body, stream: true, stream_options: { include_usage: true },
  });
  const ids = new Set();
  let chunks = 0, contentChunks = 0, content = '', finishes = [], usageChunks = [];
  let roleFirst;
  for await (const chunk of stream) {
    chunks += 1;
    ids.add(chunk.id);
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, 'your-model');
    if (chunk.usage) {
      assert.deepEqual(chunk.choices, [], 'the usage chunk must have empty choices');
      usageChunks.push(chunk.usage);
      continue;
    }
    assert.equal(usageChunks.length, 0, 'a chunk with choices came after the usage chunk');
    assert.equal(chunk.choices.length, 1);
    const delta = chunk.choices[0].delta;
    if (chunks === 1) roleFirst = delta.role;
    if (typeof delta.content === 'string' && delta.content !== '') {
      content += delta.content;
      contentChunks += 1;
    }
    if (chunk.choices[0].finish_reason) finishes.push(chunk.choices[0].finish_reason);
  }
  assert.equal(ids.size, 1, `chunks carry ${ids.size} different ids`);
  assert.match([...ids][0], /^chatcmpl-/);
  assert.equal(roleFirst, 'assistant', 'the first chunk must carry role "assistant"');
  assert.equal(finishes.length, 1, `finish_reason sent ${finishes.length} times`);
  assert.equal(finishes[0], whole.choices[0].finish_reason);
  assert.equal(usageChunks.length, 1, `${usageChunks.length} usage chunks`);
  checkUsage(usageChunks[0], 'stream');
  assert.deepEqual(usageChunks[0], whole.usage, 'streamed usage differs from the non-streaming one');
  assert.ok(contentChunks > 1, `the answer came in ${contentChunks} content chunks, not streamed`);
  assert.equal(content, whole.choices[0].message.content,
               'streamed content differs from the non-streaming content (temperature 0, same seed)');
});

test('completions.create (legacy): stories260K greedy continuation', async () => {
  const r = await client.completions.create({
    model: 'your-model', prompt: 'Once upon a time', max_tokens: 17, temperature: 0,
  });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].text, ', there was a little girl named Lily. She loved to play ');
  assert.equal(r.choices[0].finish_reason, 'length');
  checkUsage(r.usage, 'completion');
  assert.equal(r.usage.completion_tokens, 17);
});

test('a wrong API key raises AuthenticationError (401)', async () => {
  const wrong = new OpenAI({ ...options, apiKey: apiKey + '-wrong' });
  await assert.rejects(wrong.chat.completions.create(chatBody), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e?.constructor?.name}: ${e}`);
    assert.equal(e.status, 401);
    return true;
  });
});

test('max_tokens -1 raises BadRequestError (400) naming max_tokens', async () => {
  await assert.rejects(client.chat.completions.create({ ...chatBody, max_tokens: -1 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e?.constructor?.name}: ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.param ?? e.error?.param, 'max_tokens');
    assert.equal(e.type ?? e.error?.type, 'invalid_request_error');
    return true;
  });
});

test('models.list() lists the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.ok(ids.length >= 1, 'no models listed');
  if (servedModel) assert.ok(ids.includes(servedModel), `${servedModel} not in [${ids}]`);
});

let failed = 0;
for (const { name, fn } of tests) {
  try {
    await fn();
    console.log(`ok    ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL  ${name}\n      ${String(e?.stack ?? e).split('\n').join('\n      ')}`);
  }
}
console.log(`${tests.length - failed} of ${tests.length} passed`);
process.exit(failed === 0 ? 0 : 1);
