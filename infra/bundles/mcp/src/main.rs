//! The bootstrap of the MCP endpoint. It runs the pixel routes' handlers in-process (codecs and
//! the C2PA SDK, as the media bundle), and MCP's SDK, which is why it is a bundle of its own:
//! the media functions do not carry what only it uses.

shared::bootstrap! {
    http: {},
    own: {
        "mcp" => mcp,
    },
}
