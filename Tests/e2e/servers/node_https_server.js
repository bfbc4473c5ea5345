// An HTTPS server in Node.js: OpenSSL inside the executable, driven through
// memory BIOs, so no socket call is made inside SSL_read/SSL_write.
//   node node_https_server.js PORT CERT KEY
const fs = require("fs");
const https = require("https");

const [port, cert, key] = process.argv.slice(2);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
  req.resume();
  req.on("end", () => res.end("hello from node\n"));
}).listen(Number(port), "127.0.0.1");
