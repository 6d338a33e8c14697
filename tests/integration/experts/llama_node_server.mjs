// A real llama.cpp (npm @fugood/llama.node, prebuilt) serving one GGUF as the OpenAI-compatible API
// that the experts providers call, on loopback only:
//   GET  /v1/models             the one model, under ALIAS
//   POST /v1/chat/completions   messages, max_tokens | max_completion_tokens, temperature, top_p, seed,
//                               stop, response_format (text | json_object [+ schema] | json_schema):
//                               a schema becomes a llama.cpp grammar, so the answer is JSON of that
//                               shape; usage = the tokens the model really read and wrote;
//                               finish_reason "length" when max_tokens cut the answer off.
//   GET  /health
// Bad requests get OpenAI-style errors: 400 (not JSON, a field of the wrong type or range, an unknown
// field, streaming, a schema llama.cpp cannot turn into a grammar, messages + max_tokens over the
// context), 404 (unknown path or model), 405 (wrong method), 413 (body over 1 MiB), 500 (llama.cpp
// failed). Requests run one at a time on one slot, in arrival order, each from an empty KV cache (so
// an answer does not depend on the request before it); a client that disconnects is cancelled.
// llama.node's parallel (slot) API is used because its token counts are exact: the one-shot
// `completion()` of 1.7.15 leaves the first generated token out of `tokens_predicted`.
// Usage: LLAMA_NODE_DIR=DIR node llama_node_server.mjs MODEL.gguf PORT ALIAS
//   (DIR holds node_modules/@fugood/llama.node). Logs go to stderr; "listening on PORT" once ready.
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'

const [modelPath, port, alias] = process.argv.slice(2)
if (!modelPath || !/^\d+$/.test(port ?? '') || !alias || !process.env.LLAMA_NODE_DIR) {
  process.stderr.write('usage: LLAMA_NODE_DIR=DIR node llama_node_server.mjs MODEL.gguf PORT ALIAS\n')
  process.exit(2)
}
const require = createRequire(path.join(process.env.LLAMA_NODE_DIR, 'package.json'))
const { loadModel } = require('@fugood/llama.node')

const MAX_BODY = 1 << 20
const N_CTX = 2048
const log = (message) => process.stderr.write(`[llama-node] ${message}\n`)

const context = await loadModel({ model: modelPath, n_ctx: N_CTX, n_threads: 1, n_gpu_layers: 0, n_parallel: 1 })
if (!(await context.parallel.enable({ n_parallel: 1, n_batch: 512 }))) {
  log('llama.node could not enable its slot API')
  process.exit(1)
}
const created = Math.floor(Date.now() / 1000)
let served = 0

class RequestError extends Error {
  constructor(status, message, param = null, code = null) {
    super(message)
    this.status = status
    this.param = param
    this.code = code
  }
}

function send(res, status, body, headers = {}) {
  if (res.writableEnded || res.destroyed) return
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

function sendError(res, err, headers = {}) {
  log(`refused ${err.status}: ${err.message.slice(0, 120)}`)
  const type = err.status >= 500 ? 'server_error' : 'invalid_request_error'
  send(res, err.status, { error: { message: err.message, type, param: err.param, code: err.code } }, headers)
}

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value)

const KNOWN_FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'stop',
  'response_format', 'stream', 'n', 'user',
])

function integer(body, name, min, max) {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RequestError(400, `${name} must be an integer from ${min} to ${max}`, name)
  }
  return value
}

function number(body, name, min, max) {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new RequestError(400, `${name} must be a number from ${min} to ${max}`, name)
  }
  return value
}

function messagesOf(body) {
  const { messages } = body
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new RequestError(400, 'messages must be a non-empty array', 'messages')
  }
  return messages.map((message, i) => {
    if (!isObject(message) || !['system', 'developer', 'user', 'assistant'].includes(message.role)) {
      throw new RequestError(400, `messages[${i}].role must be system, developer, user or assistant`, 'messages')
    }
    if (typeof message.content !== 'string') {
      throw new RequestError(400, `messages[${i}].content must be a string`, 'messages')
    }
    return { role: message.role === 'developer' ? 'system' : message.role, content: message.content }
  })
}

function responseFormatOf(body) {
  const format = body.response_format
  if (format === undefined || format === null) return undefined
  if (!isObject(format)) throw new RequestError(400, 'response_format must be an object', 'response_format')
  if (format.type === 'text') return undefined
  if (format.type === 'json_object') {
    // llama-cpp-python's dialect: an optional `schema` beside the type; without one, any JSON object.
    if (format.schema !== undefined && !isObject(format.schema)) {
      throw new RequestError(400, 'response_format.schema must be an object', 'response_format')
    }
    return { type: 'json_object', schema: format.schema ?? { type: 'object' } }
  }
  if (format.type === 'json_schema') {
    if (!isObject(format.json_schema) || !isObject(format.json_schema.schema)) {
      throw new RequestError(400, 'response_format.json_schema.schema must be an object', 'response_format')
    }
    return { type: 'json_schema', json_schema: { schema: format.json_schema.schema, strict: true } }
  }
  throw new RequestError(400, 'response_format.type must be text, json_object or json_schema', 'response_format')
}

function stopOf(body) {
  const { stop } = body
  if (stop === undefined || stop === null) return undefined
  const list = typeof stop === 'string' ? [stop] : stop
  if (!Array.isArray(list) || list.length > 4 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new RequestError(400, 'stop must be a string or up to 4 non-empty strings', 'stop')
  }
  return list
}

/** llama.node completion options for an OpenAI request body; RequestError when it is not one. */
function optionsOf(body) {
  if (!isObject(body)) throw new RequestError(400, 'the body must be a JSON object')
  const unknown = Object.keys(body).filter((key) => !KNOWN_FIELDS.has(key))
  if (unknown.length > 0) throw new RequestError(400, `unsupported field: ${unknown[0]}`, unknown[0])
  if (body.model !== undefined && body.model !== alias) {
    throw new RequestError(404, `the model '${String(body.model)}' does not exist`, 'model', 'model_not_found')
  }
  if (body.stream !== undefined && body.stream !== false) {
    throw new RequestError(400, 'stream is not supported by this server', 'stream')
  }
  if (body.n !== undefined && body.n !== 1) throw new RequestError(400, 'n must be 1', 'n')
  const maxTokens = integer(body, 'max_completion_tokens', 1, N_CTX) ?? integer(body, 'max_tokens', 1, N_CTX)
  const options = {
    messages: messagesOf(body),
    n_predict: maxTokens ?? 256,
    temperature: number(body, 'temperature', 0, 2) ?? 1,
    top_p: number(body, 'top_p', 0, 1) ?? 1,
    seed: integer(body, 'seed', 0, 2 ** 31 - 1) ?? -1, // -1: a random seed, as llama.cpp's server does
  }
  const stop = stopOf(body)
  if (stop) options.stop = stop
  const responseFormat = responseFormatOf(body)
  if (responseFormat) options.response_format = responseFormat
  return options
}

/** The prompt's size in tokens, as the chat template lays it out; refuses what cannot fit the context. */
async function promptTokens(options) {
  let formatted
  try {
    formatted = context.getFormattedChat(options.messages, undefined, {
      jinja: true,
      response_format: options.response_format,
    })
  } catch (err) {
    throw new RequestError(400, `llama.cpp: ${String(err?.message ?? err).slice(0, 300)}`, 'response_format')
  }
  const count = (await context.tokenize(formatted.prompt)).tokens.length
  if (count + options.n_predict > N_CTX) {
    throw new RequestError(
      400,
      `this model's context is ${N_CTX} tokens; the messages take ${count} and max_tokens asks ${options.n_predict}`,
      'messages',
      'context_length_exceeded',
    )
  }
  return count
}

function answer(options, result, counted) {
  served += 1
  const prompt = result.timings.cache_n + result.timings.prompt_n || counted
  const finish = result.stopped_limit || result.tokens_predicted >= options.n_predict ? 'length' : 'stop'
  return {
    id: `chatcmpl-${process.pid}-${served}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: alias,
    choices: [
      { index: 0, message: { role: 'assistant', content: result.content ?? result.text }, finish_reason: finish },
    ],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: result.tokens_predicted,
      total_tokens: prompt + result.tokens_predicted,
    },
  }
}

async function complete(res, body) {
  let request
  let gone = false
  res.on('close', () => {
    if (res.writableEnded) return
    gone = true // the client went away: free the slot
    log(`cancelled: the client went away (seed=${body?.seed})`)
    request?.stop()
  })
  const options = optionsOf(body)
  const counted = await promptTokens(options)
  log(`queued: seed=${options.seed} prompt_tokens=${counted} max_tokens=${options.n_predict}`)
  if (gone) return
  request = await context.parallel.completion(options)
  if (gone) return request.stop()
  let result
  try {
    result = await request.promise
  } catch (err) {
    if (gone) return
    throw err
  }
  if (result.context_full) {
    throw new RequestError(400, `the answer does not fit the context of ${N_CTX} tokens`, 'messages', 'context_length_exceeded')
  }
  const reply = answer(options, result, counted)
  log(
    `seed=${options.seed} temperature=${options.temperature} format=${options.response_format?.type ?? 'text'} ` +
      `tokens=${reply.usage.prompt_tokens}/${reply.usage.completion_tokens} finish=${reply.choices[0].finish_reason} ` +
      `ms=${Math.round(result.timings.prompt_ms + result.timings.predicted_ms)} ` +
      `answer=${JSON.stringify(reply.choices[0].message.content.slice(0, 80))}`,
  )
  send(res, 200, reply)
}

function readBody(req, res, then) {
  const chunks = []
  let size = 0
  req.on('data', (chunk) => {
    if (size > MAX_BODY) return // refused already
    size += chunk.length
    if (size > MAX_BODY) {
      sendError(res, new RequestError(413, `the body is over ${MAX_BODY} bytes`), { connection: 'close' })
      req.destroy()
      return
    }
    chunks.push(chunk)
  })
  req.on('end', () => {
    if (size > MAX_BODY) return
    let body
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      return sendError(res, new RequestError(400, 'the body is not JSON'))
    }
    then(body)
  })
}

const ROUTES = { '/v1/models': 'GET', '/v1/chat/completions': 'POST', '/health': 'GET' }

function route(req, res) {
  const { pathname } = new URL(req.url, 'http://127.0.0.1')
  const allowed = Object.hasOwn(ROUTES, pathname) ? ROUTES[pathname] : undefined
  if (allowed === undefined || req.method !== allowed) {
    req.resume()
    if (allowed === undefined) return sendError(res, new RequestError(404, `no route for ${req.method} ${pathname}`))
    return sendError(res, new RequestError(405, `${req.method} is not allowed on ${pathname}`), { allow: allowed })
  }
  if (pathname === '/health') return send(res, 200, { status: 'ok' })
  if (pathname === '/v1/models') {
    return send(res, 200, { object: 'list', data: [{ id: alias, object: 'model', created, owned_by: 'llama.node' }] })
  }
  readBody(req, res, (body) => {
    complete(res, body).catch((err) => {
      if (err instanceof RequestError) return sendError(res, err)
      const message = String(err?.message ?? err)
      log(`completion failed: ${message}`)
      // llama.cpp refuses what it cannot turn into a grammar: that is the request's fault.
      const status = /schema|grammar|parser/i.test(message) ? 400 : 500
      sendError(res, new RequestError(status, `llama.cpp: ${message}`.slice(0, 500), status === 400 ? 'response_format' : null))
    })
  })
}

const server = createServer(route)
server.requestTimeout = 0 // a long generation is not a slow client
// Idle keep-alive connections outlive the clients' pools (httpx drops them after 5 s), so a client
// never sends a request on a connection the server is closing at that very moment.
server.keepAliveTimeout = 65_000
server.headersTimeout = 66_000
server.listen(Number(port), '127.0.0.1', () => log(`listening on ${port}`))
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0))
}
