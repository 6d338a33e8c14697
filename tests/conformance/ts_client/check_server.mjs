// A second, independent MCP client: the TypeScript SDK (@modelcontextprotocol/sdk).
//
//   node check_server.mjs <spec.json>
//
// spec.json: {"tool": "...", "arguments": {...}, "targets": [
//   {"transport": "stdio", "command": "...", "args": [...], "env": {...}},
//   {"transport": "sse", "url": "http://127.0.0.1:P/sse"},
//   {"transport": "http", "url": "http://127.0.0.1:P/mcp"}]}
//
// For each target: connect, list tools, call the read-only tool, and validate its structured result
// against the tool's output schema (with the SDK's own Ajv validator, independently of the SDK's
// built-in check in callTool). Prints one JSON report on stdout; exit status 1 if any target failed.
//
// A spec with "surfaces" instead of "tool" checks what a server offers beside tools:
//   {"surfaces": {"prompt": {"name", "arguments"}, "resource": "ui://…", "complete": {"ref", "argument"}},
//    "targets": [...]}
// lists and gets the prompt, lists resources and resource templates and reads the resource, asks for
// the completion.
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const validator = new AjvJsonSchemaValidator();

function transportFor(target) {
  switch (target.transport) {
    case "stdio":
      return new StdioClientTransport({
        command: target.command,
        args: target.args,
        env: target.env,
        stderr: "inherit",
      });
    case "sse":
      return new SSEClientTransport(new URL(target.url));
    case "http":
      return new StreamableHTTPClientTransport(new URL(target.url));
    default:
      throw new Error(`unknown transport ${target.transport}`);
  }
}

async function checkTool(client, report) {
    const { tools } = await client.listTools();
    report.tools = tools.map((t) => t.name);
    const tool = tools.find((t) => t.name === spec.tool);
    if (!tool) throw new Error(`tool ${spec.tool} is not listed`);
    if (!tool.outputSchema) throw new Error(`tool ${spec.tool} has no output schema`);
    report.readOnlyHint = tool.annotations?.readOnlyHint;
    const result = await client.callTool({ name: spec.tool, arguments: spec.arguments });
    if (result.isError) throw new Error(`tool error: ${JSON.stringify(result.content)}`);
    const verdict = validator.getValidator(tool.outputSchema)(result.structuredContent);
    report.schemaValid = verdict.valid;
    report.schemaErrors = verdict.valid ? null : verdict.errorMessage;
    report.structuredContent = result.structuredContent;
    return verdict.valid === true;
}

async function checkSurfaces(client, report, surfaces) {
    report.prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    const prompt = await client.getPrompt(surfaces.prompt);
    report.promptText = prompt.messages.map((m) => m.content?.text ?? "").join("\n");
    report.resources = (await client.listResources()).resources.map((r) => r.uri);
    report.templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    const read = await client.readResource({ uri: surfaces.resource });
    report.resourceMimeType = read.contents[0]?.mimeType;
    report.resourceText = read.contents[0]?.text ?? "";
    report.completions = (await client.complete(surfaces.complete)).completion.values;
    return true;
}

async function check(target) {
  const report = { transport: target.transport, ok: false };
  const client = new Client({ name: "code-conformance-ts-client", version: "1.0.0" });
  try {
    await client.connect(transportFor(target));
    report.serverName = client.getServerVersion()?.name;
    report.ok = spec.surfaces ? await checkSurfaces(client, report, spec.surfaces) : await checkTool(client, report);
  } catch (error) {
    report.error = String(error?.stack || error);
  } finally {
    await client.close().catch(() => {});
  }
  return report;
}

const reports = [];
for (const target of spec.targets) {
  reports.push(await check(target));
}
process.stdout.write(JSON.stringify(reports, null, 2) + "\n");
process.exit(reports.every((r) => r.ok) ? 0 : 1);
