#!/usr/bin/env node
// A tiny static server for the playground (no dependencies).
// Serves the repository root restricted to /www/ and /pkg/, so the page at
// /www/ imports the wasm-pack output at /pkg/heaptale.js. Sends a strict
// Content-Security-Policy: the page must work without inline scripts/styles.
//
//   node scripts/serve.mjs [--port 8080] [--host 127.0.0.1]
// (HEAPTALE_SERVE_ROOT serves another folder with the same layout.)
//
// Also importable: `startServer({ port: 0 })` resolves to { server, url }.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SERVED = ['/www/', '/pkg/'];

export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; " +
  "style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'";

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.rep': 'text/plain; charset=utf-8',
};

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function handler(root) {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'method not allowed\n', { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' });
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return send(res, 400, 'bad request\n', { 'Content-Type': 'text/plain' });
    }
    if (pathname === '/' || pathname === '/www' || pathname === '/index.html') {
      return send(res, 302, '', { Location: '/www/' });
    }
    const rel = path.posix.normalize(pathname);
    if (rel.includes('\0') || !SERVED.some((p) => rel.startsWith(p))) {
      return send(res, 404, 'not found\n', { 'Content-Type': 'text/plain' });
    }
    let file = path.join(root, rel);
    if (!file.startsWith(root + path.sep)) {
      return send(res, 404, 'not found\n', { 'Content-Type': 'text/plain' });
    }
    fs.stat(file, (err, st) => {
      if (!err && st.isDirectory()) {
        if (!rel.endsWith('/')) return send(res, 302, '', { Location: rel + '/' });
        file = path.join(file, 'index.html');
      }
      fs.readFile(file, (err2, data) => {
        if (err2) {
          const hint = rel.startsWith('/pkg/') ? 'not found (build the wasm first: make build)\n' : 'not found\n';
          return send(res, 404, hint, { 'Content-Type': 'text/plain' });
        }
        const type = TYPES[path.extname(file).toLowerCase()] || 'application/octet-stream';
        send(res, 200, req.method === 'HEAD' ? undefined : data, {
          'Content-Type': type, 'Content-Length': data.length,
        });
      });
    });
  };
}

export function startServer({ port = 8080, host = '127.0.0.1', root = process.env.HEAPTALE_SERVE_ROOT || ROOT } = {}) {
  const server = http.createServer(handler(path.resolve(root)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: p } = server.address();
      resolve({ server, url: `http://${host}:${p}/www/` });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
  };
  const port = Number(opt('--port', process.env.PORT || 8080));
  const host = opt('--host', '127.0.0.1');
  if (!fs.existsSync(path.join(process.env.HEAPTALE_SERVE_ROOT || ROOT, 'pkg', 'heaptale.js'))) {
    console.warn('heaptale: warning: pkg/heaptale.js is missing; run `make build` first');
  }
  startServer({ port, host }).then(({ url }) => {
    console.log(`heaptale: serving the playground at ${url}  (Ctrl-C to stop)`);
  }, (err) => {
    console.error(`heaptale: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  });
}
