// The official MCP TypeScript SDK as a client of /mcp, for tests/e2e/mcp.rs: it connects (its
// `initialize` handshake), lists the tools and calls TOOL with ARGS, printing both as JSON.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const transport = new StreamableHTTPClientTransport(new URL(process.env.MCP_URL), {
  requestInit: { headers: { Authorization: `Bearer ${process.env.MCP_TOKEN}` } },
});
const client = new Client({ name: 'image-api-tests', version: '1.0.0' });
await client.connect(transport);
const { tools } = await client.listTools();
const result = await client.callTool({ name: process.env.TOOL, arguments: JSON.parse(process.env.ARGS || '{}') });
console.log(JSON.stringify({
  server: client.getServerVersion(),
  protocol: transport.protocolVersion,
  tools: tools.map((t) => t.name),
  result,
}));
await client.close();
