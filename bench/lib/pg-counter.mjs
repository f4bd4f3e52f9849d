// A counting TCP proxy for the PostgreSQL wire protocol. The "counting app" (a
// second instance of the built app) gets a DATABASE_URL pointing here; every
// message is forwarded unchanged both ways, and the client → server messages
// are parsed just enough to count and record statements.
//
// A statement is one simple-protocol Query message ('Q') or one extended-protocol
// Execute message ('E'). node-pg sends Parse/Bind/Describe/Execute/Sync for a
// parameterised query and Query for one without parameters (BEGIN, COMMIT), so
// this counts every statement the app sends, whatever the server's settings
// (no pg_stat_statements needed), and nothing the server runs on its own
// (foreign-key checks, triggers).
//
// Recording (record()) keeps each statement's text and bound parameters, whether
// it was a named (prepared) statement, and where each Sync closed a round trip,
// so the app's own SQL for a request can be replayed through pg as the app sent
// it: the same statements in the same round trips. With `holdCommits`,
// the app's COMMIT is sent as ROLLBACK: the app answers as usual, the database
// stays as it was, and the replay meets the same state the app met.
import { connect, createServer } from 'node:net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Splits a client → server byte stream into messages: onMessage(type | null for start-up, whole message Buffer). */
class FrontendSplitter {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.startup = true; // the first message(s) carry no type byte
    this.buffer = Buffer.alloc(0);
  }

  push(chunk) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.startup) {
        if (this.buffer.length < 8) return;
        const length = this.buffer.readInt32BE(0);
        if (this.buffer.length < length) return;
        const code = this.buffer.readInt32BE(4);
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        // SSL/GSS negotiation is followed by the real start-up message.
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.startup = false;
        this.onMessage(code === SSL_REQUEST ? 'ssl' : null, message);
        continue;
      }
      if (this.buffer.length < 5) return;
      const length = this.buffer.readInt32BE(1);
      if (this.buffer.length < 1 + length) return;
      const message = this.buffer.subarray(0, 1 + length);
      this.buffer = this.buffer.subarray(1 + length);
      this.onMessage(String.fromCharCode(message[0]), message);
    }
  }
}

function cString(buf, at) {
  const end = buf.indexOf(0, at);
  return [buf.toString('utf8', at, end), end + 1];
}

/** Parse: name, query text. */
function readParse(message) {
  const [name, at] = cString(message, 5);
  const [text] = cString(message, at);
  return { name, text };
}

/** Bind: statement name and the parameter values (text format → string, binary → Buffer, NULL → null). */
function readBind(message) {
  let [, at] = cString(message, 5); // portal
  let statement;
  [statement, at] = cString(message, at);
  const nFormats = message.readInt16BE(at);
  at += 2;
  const formats = [];
  for (let i = 0; i < nFormats; i++, at += 2) formats.push(message.readInt16BE(at));
  const nParams = message.readInt16BE(at);
  at += 2;
  const values = [];
  for (let i = 0; i < nParams; i++) {
    const len = message.readInt32BE(at);
    at += 4;
    if (len === -1) {
      values.push(null);
      continue;
    }
    const format = nFormats === 0 ? 0 : nFormats === 1 ? formats[0] : formats[i];
    values.push(format === 1 ? Buffer.from(message.subarray(at, at + len)) : message.toString('utf8', at, at + len));
    at += len;
  }
  return { statement, values };
}

const queryMessage = (text) => {
  const body = Buffer.from(`${text}\0`, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 0x51; // 'Q'
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};

/**
 * Starts the proxy on 127.0.0.1 (free port) in front of `targetUrl`.
 * `url` is targetUrl with host and port replaced.
 */
export async function startCountingProxy(targetUrl) {
  const target = new URL(targetUrl);
  const targetHost = target.hostname || '127.0.0.1';
  const targetPort = Number(target.port || 5432);
  const byType = new Map();
  const sockets = new Set();
  let encrypted = false;
  let recording = null; // { connections: Map<id, statement[]> }
  let connectionSeq = 0;
  const proxy = {
    url: '',
    /** COMMIT is sent as ROLLBACK while true. */
    holdCommits: false,
    /** Statements sent so far (Query + Execute messages). Throws if the traffic was encrypted. */
    statements() {
      if (encrypted) throw new Error('the app negotiated SSL with PostgreSQL through the counting proxy: statements cannot be counted');
      return (byType.get('Q') ?? 0) + (byType.get('E') ?? 0);
    },
    /** Every message type seen, for the record. */
    counts: () => Object.fromEntries(byType),
    /** Starts recording statements; the returned function stops and returns them per connection, in order. */
    record() {
      recording = { connections: new Map() };
      const mine = recording;
      return () => {
        if (recording === mine) recording = null;
        return [...mine.connections.values()];
      };
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };

  const server = createServer((client) => {
    const id = connectionSeq++;
    const upstream = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const named = new Map(); // prepared statement name → text
    let pending = null; // the bound statement awaiting Execute
    let sslAsked = false;
    const log = (statement) => {
      if (!recording) return;
      if (!recording.connections.has(id)) recording.connections.set(id, []);
      recording.connections.get(id).push(statement);
    };
    const splitter = new FrontendSplitter((type, message) => {
      if (type === 'ssl') sslAsked = true;
      if (type) byType.set(type, (byType.get(type) ?? 0) + 1);
      if (type === 'P') {
        const { name, text } = readParse(message);
        named.set(name, text);
      } else if (type === 'B') {
        const { statement, values } = readBind(message);
        pending = { text: named.get(statement), values, prepared: statement !== '' };
      } else if (type === 'E') {
        if (pending) log(pending);
      } else if (type === 'S') {
        log({ sync: true }); // the end of a round trip of the extended protocol
      } else if (type === 'Q') {
        const [text] = cString(message, 5);
        if (proxy.holdCommits && /^\s*(COMMIT|END)\s*;?\s*$/i.test(text)) {
          log({ text, values: undefined, heldCommit: true });
          upstream.write(queryMessage('ROLLBACK'));
          return;
        }
        log({ text, values: undefined });
      }
      upstream.write(message);
    });
    client.on('data', (chunk) => splitter.push(chunk));
    upstream.on('data', (chunk) => {
      // The server's one-byte answer to an SSLRequest: 'S' would mean encrypted traffic we cannot parse.
      if (sslAsked) {
        sslAsked = false;
        if (chunk[0] === 0x53) encrypted = true;
      }
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(server.address().port);
  proxy.url = url.toString();
  return proxy;
}

/**
 * From recorded connections: the one transaction whose COMMIT was held (BEGIN …
 * COMMIT, both included) as the round trips the app made: each one either a
 * simple query `{ text }` or a batch `{ batch: [{ text, values, prepared }] }`
 * (the extended-protocol statements the app sent before one Sync, to replay with
 * the app's own StatementBatch); throws unless exactly one.
 */
export function heldTransaction(connections) {
  const found = [];
  for (const statements of connections) {
    const end = statements.findIndex((s) => s.heldCommit);
    if (end < 0) continue;
    let begin = end;
    while (begin >= 0 && !/^\s*(BEGIN|START TRANSACTION)\b/i.test(statements[begin].text)) begin--;
    if (begin < 0) throw new Error('a held COMMIT without its BEGIN');
    const trips = [];
    let batch = [];
    for (const s of statements.slice(begin, end + 1)) {
      if (s.sync) {
        if (batch.length) trips.push({ batch });
        batch = [];
      } else if (s.values) batch.push({ text: s.text, values: s.values, prepared: s.prepared });
      else trips.push({ text: s.heldCommit ? 'COMMIT' : s.text });
    }
    if (batch.length) throw new Error('a held transaction with statements after its last Sync');
    found.push(trips);
  }
  if (found.length !== 1) throw new Error(`expected one held transaction, found ${found.length}`);
  return found[0];
}
