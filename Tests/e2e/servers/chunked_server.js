// A Node HTTP/1.1 keep-alive server for the chunked-body tests.
//   GET  /chunked/<n>  answers 200 with n bytes written by one res.write()
//                      and no Content-Length: Node frames them as chunks
//   GET  /corked/<k>/<n>  answers 200 with k chunks of n bytes, corked into
//                      one write (the kernel copies only the head and tail)
//   POST anything      reads the whole body (chunked or not), answers 201
//                      with the number of bytes received
const http = require("http");

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  const match = req.method === "GET" && /^\/chunked\/(\d+)$/.exec(req.url);
  const corked = req.method === "GET" && /^\/corked\/(\d+)\/(\d+)$/.exec(req.url);
  if (corked) {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.cork();
    for (let i = 0; i < Number(corked[1]); i++) res.write(Buffer.alloc(Number(corked[2]), "klmnopqrst"));
    res.end();
    return;
  }
  if (match) {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.write(Buffer.alloc(Number(match[1]), "abcdefghij"));
    res.end();
    return;
  }
  let received = 0;
  req.on("data", (chunk) => { received += chunk.length; });
  req.on("end", () => {
    const body = String(received);
    res.writeHead(201, { "Content-Type": "text/plain", "Content-Length": body.length });
    res.end(body);
  });
});
server.listen(port, "127.0.0.1", () => console.log("listening"));
