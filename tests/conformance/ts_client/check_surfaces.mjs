// The TypeScript SDK (@modelcontextprotocol/sdk) as an independent client of what a server offers
// beside tools: prompts, resources (an MCP Apps view included) and completions.
//
//   node check_surfaces.mjs <spec.json>
//
// spec.json: {"prompt": {"name", "arguments"}, "resource": "ui://…", "complete": {"ref", "argument"},
//             "targets": [{"transport": "stdio", "command", "args", "env"}, {"transport": "http", "url"}]}
//
// For each target: list prompts and get one, list resources and resource templates and read one,
// ask for a completion. Prints one JSON report on stdout; exit status 1 if any target failed.
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

function transportFor(target) {
  if (target.transport === "stdio") {
    return new StdioClientTransport({ command: target.command, args: target.args, env: target.env, stderr: "inherit" });
  }
  return new StreamableHTTPClientTransport(new URL(target.url));
}

async function check(target) {
  const report = { transport: target.transport, ok: false };
  const client = new Client({ name: "code-surfaces-ts-client", version: "1.0.0" });
  try {
    await client.connect(transportFor(target));
    report.prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    const prompt = await client.getPrompt(spec.prompt);
    report.promptText = prompt.messages.map((m) => m.content?.text ?? "").join("\n");
    report.resources = (await client.listResources()).resources.map((r) => r.uri);
    report.templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    const read = await client.readResource({ uri: spec.resource });
    report.resourceMimeType = read.contents[0]?.mimeType;
    report.resourceText = read.contents[0]?.text ?? "";
    const completed = await client.complete(spec.complete);
    report.completions = completed.completion.values;
    report.ok = true;
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
