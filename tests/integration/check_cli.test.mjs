// `dsgw check`: valid files pass; each kind of mistake is reported as FILE:LINE:COL: key.path: ...

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';

import { checkConfig, makeTempDir, runDsgw, sha256Hex, writeConfig } from '../support/harness.mjs';

const kServerLines = ['[server]', 'listen = "127.0.0.1:0"', 'workers = 8', 'max_inflight = 4'];

function backendLines(name = 'main', extra = []) {
  return [
    '[[backend]]', `name = "${name}"`, 'kind = "openai"', 'base_url = "http://127.0.0.1:9/v1"',
    'model = "upstream-model-id"', `models = ["${name}-model"]`, 'jurisdiction = "lan"', ...extra,
  ];
}

const toText = (...sections) => `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
const replaceLine = (lines, prefix, replacement) => lines.map((line) => (line.startsWith(prefix) ? replacement : line));
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// 1-based line and column of the first occurrence of `needle`; the `occurrence`-th when given.
function locate(text, needle, occurrence = 1) {
  const lines = text.split('\n');
  let seen = 0;
  for (const [index, line] of lines.entries()) {
    const column = line.indexOf(needle);
    if (column >= 0 && ++seen === occurrence) return { line: index + 1, column: column + 1 };
  }
  throw new Error(`"${needle}" not in config`);
}

// Each case: a config with one mistake, the key path it must name, and where: the line of `key`
// (its `occurrence`-th appearance), at the column of the line's start, the key, or its value.
const kCases = [
  {
    label: 'an unknown key',
    text: toText([...kServerLines, 'bogus_key = true'], backendLines()),
    keyPath: 'server.bogus_key', key: 'bogus_key',
  },
  {
    label: 'an unknown key in a backend',
    text: toText(kServerLines, backendLines('main', ['colour = "blue"'])),
    keyPath: 'backend[0].colour', key: 'colour',
  },
  {
    label: 'an unknown table',
    text: toText(kServerLines, backendLines(), ['[bogus_table]', 'x = 1']),
    keyPath: 'bogus_table', key: 'bogus_table',
  },
  {
    label: 'a string where an integer belongs',
    text: toText(replaceLine(kServerLines, 'workers', 'workers = "many"'), backendLines()),
    keyPath: 'server.workers', key: 'workers',
  },
  {
    label: 'a number where a list of strings belongs',
    text: toText(kServerLines, replaceLine(backendLines(), 'models', 'models = 3')),
    keyPath: 'backend[0].models', key: 'models',
  },
  {
    label: 'a base_url that is not a URL',
    text: toText(kServerLines, replaceLine(backendLines(), 'base_url', 'base_url = "not a url"')),
    keyPath: 'backend[0].base_url', key: 'base_url',
  },
  {
    label: 'a duplicate backend name',
    text: toText(kServerLines, backendLines('twin'), backendLines('twin')),
    keyPath: 'backend[1].name', key: 'name =', occurrence: 2,
  },
  {
    label: 'an api_key_file that does not exist',
    text: toText(kServerLines, backendLines('main', ['api_key_file = "/nonexistent/dsgw-test.key"'])),
    keyPath: 'backend[0].api_key_file', key: 'api_key_file',
  },
  {
    label: 'a non-loopback listen address without [[api_key]]',
    text: toText(replaceLine(kServerLines, 'listen', 'listen = "0.0.0.0:8080"'), backendLines()),
    keyPath: 'server.listen', key: 'listen',
  },
];

// The stderr lines of a failed check that have the FILE:LINE:COL: key.path: form for `file`.
function diagnostics(result) {
  const pattern = new RegExp(`^${escapeRegExp(result.configPath)}:(\\d+):(\\d+): (\\S+): (.+)$`);
  return result.stderr.split('\n').filter(Boolean).map((text) => {
    const match = pattern.exec(text);
    return match ? { text, line: Number(match[1]), column: Number(match[2]), keyPath: match[3], what: match[4] } : { text };
  });
}

describe('dsgw check', () => {
  it('accepts a valid config and exits 0', async () => {
    const result = await checkConfig(toText(kServerLines, backendLines('a'), backendLines('b')));
    assert.equal(result.code, 0, result.stderr);
  });

  it('accepts a non-loopback listen address with allow_unauthenticated or with keys', async () => {
    const server = replaceLine(kServerLines, 'listen', 'listen = "0.0.0.0:8080"');
    const open = await checkConfig(toText([...server, 'allow_unauthenticated = true'], backendLines()));
    assert.equal(open.code, 0, open.stderr);
    const keyed = await checkConfig(toText(server, ['[[api_key]]', `sha256 = "${sha256Hex('k')}"`, 'tenant = "t"'], backendLines()));
    assert.equal(keyed.code, 0, keyed.stderr);
  });

  it('binds nothing: passes even when the listen port is taken', async () => {
    const holder = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => holder.once('listening', resolve));
    try {
      const server = replaceLine(kServerLines, 'listen', `listen = "127.0.0.1:${holder.address().port}"`);
      const result = await checkConfig(toText(server, backendLines()));
      assert.equal(result.code, 0, result.stderr);
    } finally {
      holder.close();
    }
  });

  for (const { label, text, keyPath, key, occurrence } of kCases) {
    it(`rejects ${label}, naming file:line:col and ${keyPath}`, async () => {
      const result = await checkConfig(text);
      assert.notEqual(result.code, 0, 'check passed an invalid config');
      const found = diagnostics(result).find((d) => d.keyPath === keyPath);
      assert.ok(found, `no "FILE:LINE:COL: ${keyPath}: ..." line in:\n${result.stderr}`);
      const keyAt = locate(text, key, occurrence);
      assert.equal(found.line, keyAt.line, found.text);
      const line = text.split('\n')[keyAt.line - 1];
      const plausibleColumns = [1, keyAt.column, line.indexOf('=') + 3];
      assert.ok(plausibleColumns.includes(found.column), `column of "${found.text}" points at neither the key nor its value`);
    });
  }

  it('reports a TOML syntax error with its position', async () => {
    const text = toText(kServerLines, ['[[backend]', 'name = "x"']);
    const result = await checkConfig(text);
    assert.notEqual(result.code, 0);
    const positioned = diagnostics(result).filter((d) => d.line);
    assert.ok(positioned.some((d) => d.line === locate(text, '[[backend]').line), result.stderr);
  });

  it('reports every problem, one line each', async () => {
    const text = toText([...replaceLine(kServerLines, 'workers', 'workers = "many"'), 'bogus_key = 1'],
      backendLines('main', ['colour = "blue"']));
    const result = await checkConfig(text);
    assert.notEqual(result.code, 0);
    const keyPaths = diagnostics(result).map((d) => d.keyPath);
    for (const keyPath of ['server.workers', 'server.bogus_key', 'backend[0].colour']) {
      assert.ok(keyPaths.includes(keyPath), `${keyPath} not reported:\n${result.stderr}`);
    }
  });

  it('fails clearly for a config file that does not exist', async () => {
    const missing = `${makeTempDir()}/absent.toml`;
    const result = await runDsgw(['check', '--config', missing]);
    assert.notEqual(result.code, 0);
    assert.ok(result.stderr.includes(missing), result.stderr);
  });

  it('a serve with an invalid config exits non-zero with the same diagnostics', async () => {
    const configPath = writeConfig(makeTempDir(), kCases[0].text);
    const result = await runDsgw(['serve', '--config', configPath], { timeoutMs: 5000 });
    assert.notEqual(result.code, 0);
    assert.equal(result.signal, null, 'serve did not exit by itself');
    assert.match(result.stderr, /server\.bogus_key/);
  });
});

describe('dsgw --help', () => {
  it('exits 0 and names the serve and check verbs', async () => {
    const result = await runDsgw(['--help']);
    assert.equal(result.code, 0, result.stderr);
    const text = result.stdout + result.stderr;
    assert.match(text, /\bserve\b/);
    assert.match(text, /\bcheck\b/);
  });
});
