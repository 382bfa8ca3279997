// clients.mjs — the official OpenAI and Anthropic client libraries against a
// running `slm serve` (tests/test_serve.c starts it):
//
//   node clients.mjs BASE_URL API_KEY MODEL
//
// Makes non-streaming and streaming calls with each library and checks that
// every answer is well formed (the libraries parse it into their own types;
// the checks below look at what they produced). Prints one line per check
// and ends with "clients: ok" or "clients: FAILED (n)"; exits 1 on failure.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const [base, apiKey, model] = process.argv.slice(2);
let failed = 0;
function check(name, cond, detail) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${name}${cond ? '' : ': ' + JSON.stringify(detail)}`);
  if (!cond) failed++;
}

const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 60000 });
const anthropic = new Anthropic({ baseURL: base, apiKey, maxRetries: 0, timeout: 60000 });
const messages = [
  { role: 'system', content: 'You tell short stories.' },
  { role: 'user', content: 'Tell me about a cat.' },
];

try {
  // OpenAI: chat, not streamed
  const c = await openai.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0.7, seed: 3 });
  check('openai chat', c.object === 'chat.completion' && c.choices.length === 1 &&
    typeof c.choices[0].message.content === 'string' && c.choices[0].message.role === 'assistant' &&
    ['stop', 'length'].includes(c.choices[0].finish_reason) && c.usage.completion_tokens > 0 &&
    c.usage.total_tokens === c.usage.prompt_tokens + c.usage.completion_tokens, c);
  // the same seed gives the same answer
  const c2 = await openai.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0.7, seed: 3 });
  check('openai chat seed repeats', c2.choices[0].message.content === c.choices[0].message.content,
    [c.choices[0].message.content, c2.choices[0].message.content]);

  // OpenAI: chat, streamed, with usage
  const stream = await openai.chat.completions.create({
    model, messages, max_tokens: 12, temperature: 0.7, seed: 3, stream: true,
    stream_options: { include_usage: true },
  });
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      text += ch.delta.content ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  check('openai chat stream', chunks > 2 && finish !== null && usage && usage.completion_tokens > 0 &&
    text === c.choices[0].message.content, { text, finish, usage, chunks, want: c.choices[0].message.content });

  // OpenAI: completions, both ways
  const t = await openai.completions.create({ model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0 });
  check('openai completion', t.object === 'text_completion' && typeof t.choices[0].text === 'string' &&
    t.choices[0].text.length > 0 && t.usage.completion_tokens === 10, t);
  const ts = await openai.completions.create({ model, prompt: 'Once upon a time', max_tokens: 10, temperature: 0, stream: true });
  let ttext = '';
  for await (const chunk of ts) ttext += chunk.choices[0]?.text ?? '';
  check('openai completion stream', ttext === t.choices[0].text, [ttext, t.choices[0].text]);

  // OpenAI: models and embeddings
  const models = await openai.models.list();
  check('openai models', models.data.some((m) => m.id === model), models.data);
  const e = await openai.embeddings.create({ model, input: ['a cat', 'a dog'] });
  const norm = Math.hypot(...e.data[0].embedding);
  check('openai embeddings', e.data.length === 2 && e.data[0].embedding.length > 0 && Math.abs(norm - 1) < 1e-3 &&
    e.usage.prompt_tokens > 0, { n: e.data.length, norm });
  // the library asks for base64 by default when not told; ask for floats too
  const ef = await openai.embeddings.create({ model, input: 'a cat', encoding_format: 'float' });
  const dot = ef.data[0].embedding.reduce((s, v, i) => s + v * e.data[0].embedding[i], 0);
  check('openai embeddings float = base64', Math.abs(dot - 1) < 1e-3, dot);

  // OpenAI: an error comes back as the library's error type
  try {
    await openai.chat.completions.create({ model: 'no-such-model', messages, max_tokens: 4 });
    check('openai unknown model', false, 'no error');
  } catch (err) {
    check('openai unknown model', err instanceof OpenAI.NotFoundError && err.status === 404 &&
      typeof err.message === 'string', { status: err.status, message: err.message });
  }

  // Anthropic: messages, not streamed
  const m = await anthropic.messages.create({
    model, max_tokens: 12, system: 'You tell short stories.', temperature: 0.5,
    messages: [{ role: 'user', content: 'Tell me about a cat.' }],
  });
  check('anthropic message', m.type === 'message' && m.role === 'assistant' && m.content[0].type === 'text' &&
    typeof m.content[0].text === 'string' && ['end_turn', 'max_tokens', 'stop_sequence'].includes(m.stop_reason) &&
    m.usage.input_tokens > 0 && m.usage.output_tokens > 0, m);

  // Anthropic: streamed, through the library's event accumulator
  const ms = anthropic.messages.stream({
    model, max_tokens: 12, messages: [{ role: 'user', content: 'Tell me about a dog.' }],
  });
  const seen = [];
  let deltas = '';
  ms.on('streamEvent', (ev) => seen.push(ev.type));
  ms.on('text', (d) => { deltas += d; });
  const final = await ms.finalMessage();
  // (the library drops ping events; tests/test_serve.c checks them on the wire)
  const order = ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop',
    'message_delta', 'message_stop'];
  const firsts = order.map((ev) => seen.indexOf(ev));
  check('anthropic stream', final.content[0].text === deltas && final.stop_reason !== null &&
    final.usage.output_tokens > 0 && firsts.every((i, k) => i >= 0 && (k === 0 || i > firsts[k - 1] ||
      order[k] === 'content_block_delta')), { seen, final });

  // Anthropic: an error comes back as the library's error type
  try {
    await anthropic.messages.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    check('anthropic missing max_tokens', false, 'no error');
  } catch (err) {
    check('anthropic missing max_tokens', err instanceof Anthropic.BadRequestError && err.status === 400 &&
      err.error?.type === 'error' && err.error?.error?.type === 'invalid_request_error', err.error);
  }
} catch (err) {
  check('no exception', false, String(err && err.stack ? err.stack : err));
}
console.log(failed ? `clients: FAILED (${failed})` : 'clients: ok');
process.exit(failed ? 1 : 0);
