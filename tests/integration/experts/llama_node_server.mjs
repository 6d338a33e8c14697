// A real llama.cpp (through npm @fugood/llama.node, prebuilt) serving a GGUF as a minimal
// OpenAI-compatible API on loopback: GET /v1/models, POST /v1/chat/completions.
// The fallback runtime of tests/integration/experts/llama_server.py when llama-cpp-python is not
// built. Usage: node llama_node_server.mjs MODEL.gguf PORT ALIAS   (LLAMA_NODE_DIR: node_modules parent)
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'

const [modelPath, port, alias] = process.argv.slice(2)
const require = createRequire(path.join(process.env.LLAMA_NODE_DIR, 'package.json'))
const { loadModel } = require('@fugood/llama.node')

const context = await loadModel({ model: modelPath, n_ctx: 2048, n_threads: 1, n_gpu_layers: 0 })
let queue = Promise.resolve() // one context: answer one request at a time, in arrival order

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

async function complete(body) {
  const options = {
    messages: body.messages,
    n_predict: body.max_tokens ?? body.max_completion_tokens ?? 256,
    temperature: body.temperature ?? 0.8,
    seed: body.seed ?? -1,
  }
  const result = await context.completion(options)
  return {
    id: `chatcmpl-${Date.now()}`,
    object: 'chat.completion',
    model: alias,
    choices: [{ index: 0, message: { role: 'assistant', content: result.content ?? result.text }, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: result.tokens_evaluated,
      completion_tokens: result.tokens_predicted,
      total_tokens: result.tokens_evaluated + result.tokens_predicted,
    },
  }
}

createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/v1/models') {
    return send(res, 200, { object: 'list', data: [{ id: alias, object: 'model' }] })
  }
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    return send(res, 404, { error: { message: 'not found' } })
  }
  let raw = ''
  req.on('data', (chunk) => { raw += chunk })
  req.on('end', () => {
    let body
    try {
      body = JSON.parse(raw)
    } catch {
      return send(res, 400, { error: { message: 'body is not JSON' } })
    }
    if (!Array.isArray(body.messages)) return send(res, 400, { error: { message: 'messages required' } })
    queue = queue.then(() => complete(body).then(
      (answer) => send(res, 200, answer),
      (err) => send(res, 500, { error: { message: String(err) } }),
    ))
  })
}).listen(Number(port), '127.0.0.1', () => process.stderr.write(`listening on ${port}\n`))
