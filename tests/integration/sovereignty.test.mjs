// Data sovereignty, as a property: thousands of seeded random requests with PII planted in many
// forms and places go through dsgw to four mock upstreams standing for four jurisdictions, and the
// mocks' own records must show that no request ever reached a backend its data class forbids,
// whatever the hint said, whatever a rule preferred, and whether or not the allowed backends were
// up. A JS model of each policy (below) predicts class, PII types and the backend that should
// answer; dsgw's audit log and answers are checked against it, and no prompt text or PII value may
// appear in its logs.
//
// The seed is DSGW_SOVEREIGNTY_SEED (default below); a failure message names it.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { makeTempDir, openaiBackend, serverConfig, sha256Hex, startDsgw } from '../support/harness.mjs';
import { collectSse, openRequest, readBody, request } from '../support/http_client.mjs';
import { startMockUpstream } from '../support/mock_upstream.mjs';

const kSeed = Number(process.env.DSGW_SOVEREIGNTY_SEED ?? 20250905);
const kConcurrency = 16;
const kModel = 'm';
// Config order. Each backend is named after its jurisdiction.
const kBackends = ['site', 'lan', 'eu', 'cn'];
const kKeys = { team: 'sk-client-team-0a1b2c3d4e5f', vault: 'sk-client-vault-6a7b8c9d0e1f' };
const kTagPrefix = 'zqtag';
const kTagPattern = /zqtag([0-9a-z]+)/;

// --- a seeded PRNG -----------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  constructor(seed) { this.next = mulberry32(seed); }
  int(lo, hi) { return lo + Math.floor(this.next() * (hi - lo + 1)); } // inclusive
  pick(items) { return items[Math.floor(this.next() * items.length)]; }
  chance(p) { return this.next() < p; }
  digits(n) { let s = ''; for (let i = 0; i < n; i++) s += String(this.int(0, 9)); return s; }
  chars(alphabet, n) { let s = ''; for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)]; return s; }
}

const kUpper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const kLower = 'abcdefghijklmnopqrstuvwxyz';
const kDigits = '0123456789';
const kAlnum = kUpper + kLower + kDigits;
const kBase64 = `${kAlnum}+/`;

// --- PII generators: each returns the text to plant; valid ones have correct checksums ------------

const fullWidth = (s) => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))).replace(/X/g, '\uff38');

function luhnCheckDigit(payload) {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

// Real issuer prefixes (IIN ranges) and the lengths each network issues.
const kCardIssuers = [
  { prefix: (r) => '4', lengths: [16, 16, 13, 19] },                          // Visa
  { prefix: (r) => String(r.int(51, 55)), lengths: [16] },                    // Mastercard
  { prefix: (r) => String(r.int(2221, 2720)), lengths: [16] },                // Mastercard 2-series
  { prefix: (r) => r.pick(['34', '37']), lengths: [15] },                     // Amex
  { prefix: (r) => '62', lengths: [16, 17, 19] },                             // UnionPay
  { prefix: (r) => r.pick(['6011', '65']), lengths: [16] },                   // Discover
  { prefix: (r) => String(r.int(3528, 3589)), lengths: [16] },                // JCB
  { prefix: (r) => '36', lengths: [14] },                                     // Diners
];
const kCardGroups = { 13: [4, 4, 5], 14: [4, 6, 4], 15: [4, 6, 5], 16: [4, 4, 4, 4], 17: [4, 4, 4, 4, 1], 19: [4, 4, 4, 4, 3] };
const kSameLineSeps = [' ', '-', '\u00a0', '\u3000', '\uff0d'];
const kLineBreaks = ['\n', '\r\n', ' \n    ', '\n\t'];

function cardNumber(r, { valid }) {
  const issuer = r.pick(kCardIssuers);
  // A near miss of 17 or 19 digits could hold a valid 16-digit card in its first four groups.
  const length = r.pick(valid ? issuer.lengths : issuer.lengths.filter((l) => l <= 16));
  const prefix = issuer.prefix(r);
  const payload = prefix + r.digits(length - 1 - prefix.length);
  const check = luhnCheckDigit(payload);
  return payload + (valid ? check : String((Number(check) + r.int(1, 9)) % 10));
}

// A card number as people write it: compact, grouped with one kind of separator, a line break
// between two groups, full-width digits.
function formatCard(r, digits) {
  let text = digits;
  const style = r.int(0, 4);
  if (style >= 1) {
    const groups = [];
    let at = 0;
    for (const len of kCardGroups[digits.length]) {
      groups.push(digits.slice(at, at + len));
      at += len;
    }
    const sep = r.pick(kSameLineSeps);
    const seps = groups.slice(1).map(() => sep);
    if (style === 3) seps[r.int(0, seps.length - 1)] = r.pick(kLineBreaks);
    text = groups[0] + groups.slice(1).map((g, i) => seps[i] + g).join('');
  }
  if (style === 4 || r.chance(0.15)) text = fullWidth(text);
  return text;
}

const kResidentRegions = ['110105', '310104', '440305', '320102', '330106', '510107', '420111', '370202'];
const kIdWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const kIdChecks = '10X98765432';

function residentId(r, { valid }) {
  // Near misses use regions that cannot also be read as a card's issuer prefix.
  const region = valid ? r.pick(kResidentRegions) : r.pick(['110105', '310104', '440305']);
  const year = r.int(1950, 2005);
  const month = r.int(1, 12);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const body = region + String(year) + String(month).padStart(2, '0') + String(r.int(1, days)).padStart(2, '0') + r.digits(3);
  const sum = [...body].reduce((acc, d, i) => acc + Number(d) * kIdWeights[i], 0);
  const check = kIdChecks[sum % 11];
  const wrong = kIdChecks[(sum % 11 + r.int(1, 10)) % 11];
  return body + (valid ? check : wrong);
}

function formatResidentId(r, id) {
  switch (r.int(0, 4)) {
    case 0: return id;
    case 1: return id.replace('X', 'x');
    case 2: {
      const sep = r.pick([' ', '-']);
      return `${id.slice(0, 6)}${sep}${id.slice(6, 14)}${sep}${id.slice(14)}`;
    }
    case 3: return fullWidth(id);
    default: return fullWidth(id).replace('\uff38', '\uff58'); // full-width lower-case x
  }
}

// [country, BBAN shape]: 'd' a digit, 'A' a capital letter, 'c' a digit or capital.
const kIbanShapes = [
  ['DE', 'dddddddddddddddddd'], ['GB', 'AAAAdddddddddddddd'], ['FR', 'ddddddddddcccccccccccdd'],
  ['NL', 'AAAAdddddddddd'], ['ES', 'dddddddddddddddddddd'], ['IT', 'Addddddddddcccccccccccc'],
  ['CH', 'dddddcccccccccccc'], ['BE', 'dddddddddddd'],
];

function ibanMod97(text) {
  let rem = 0;
  for (const ch of text) {
    const v = /[0-9]/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const d of v) rem = (rem * 10 + Number(d)) % 97;
  }
  return rem;
}

function iban(r, { valid }) {
  const [country, shape] = r.pick(kIbanShapes);
  const alphabet = { d: kDigits, A: kUpper, c: kUpper + kDigits };
  const bban = [...shape].map((c) => r.pick(alphabet[c])).join('');
  const check = 98 - ibanMod97(`${bban}${country}00`);
  let digits = check;
  if (!valid) {
    do digits = r.int(2, 98); while (digits === check);
  }
  return `${country}${String(digits).padStart(2, '0')}${bban}`;
}

function formatIban(r, text) {
  const grouped = r.chance(0.5) ? text.match(/.{1,4}/g).join(' ') : text;
  return r.chance(0.2) ? grouped.toLowerCase() : grouped;
}

const kMailDomains = ['example.com', 'corp.example.cn', 'mail.example.de', 'example-mail.org', 'x.example.co.uk'];

function email(r) {
  const local = r.chars(kLower, r.int(3, 8)) + r.pick(['', '.', '_', '+billing.']) + r.chars(kLower, r.int(2, 6));
  const address = `${local}@${r.pick(kMailDomains)}`;
  return r.pick([address, `<${address}>`, `mailto:${address}`, address.toUpperCase()]);
}

function cnMobile(r) {
  const digits = `1${r.int(3, 9)}${r.digits(9)}`;
  const spaced = (sep) => `${digits.slice(0, 3)}${sep}${digits.slice(3, 7)}${sep}${digits.slice(7)}`;
  return r.pick([
    () => digits, () => spaced(' '), () => spaced('-'), () => `+86 ${digits}`, () => `+86-${spaced('-')}`,
    () => `0086 ${digits}`, () => `86${digits}`, () => fullWidth(digits), () => `\uff0b86 ${digits}`,
    () => `(+86) ${spaced('-')}`,
  ])();
}

function phone(r) {
  return r.pick([
    () => `+44 20 ${r.digits(4)} ${r.digits(4)}`, () => `+1 ${r.int(201, 989)} 555 ${r.digits(4)}`,
    () => `+49 30 ${r.digits(8)}`, () => `+33 1 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
    () => `+81-3-${r.digits(4)}-${r.digits(4)}`,
  ])();
}

const awsKey = (r) => `${r.pick(['AKIA', 'ASIA'])}${r.chars(kUpper + kDigits, 16)}`;
const githubToken = (r) => (r.chance(0.8)
  ? `${r.pick(['ghp_', 'gho_', 'ghs_', 'ghu_'])}${r.chars(kAlnum, 36)}`
  : `github_pat_${r.chars(kAlnum, 22)}_${r.chars(kAlnum, 59)}`);

function apiKey(r) {
  const body = () => r.chars(kAlnum, r.int(24, 48)) + r.pick(kDigits) + r.pick(kUpper);
  return r.pick([() => `sk-${body()}`, () => `sk-proj-${body()}`, () => `sk-ant-api03-${body()}`,
    () => `AIza${r.chars(`${kAlnum}_-`, 34)}${r.pick(kAlnum)}`])();
}

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function jwt(r) {
  const header = b64url({ alg: r.pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' });
  const payload = b64url({ sub: r.chars(kLower, 8), iat: 1700000000 + r.int(0, 9999999), scope: 'read' });
  return `${header}.${payload}.${r.chars(`${kAlnum}_-`, 43)}`;
}

function pem(r, label) {
  const lines = [];
  for (let i = r.int(3, 8); i > 0; i--) lines.push(r.chars(kBase64, 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`;
}
const kPemLabels = ['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'];
const privateKey = (r) => pem(r, r.pick(kPemLabels));

const ipv4 = (r) => `${r.pick(['10', '192', '172'])}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;

// type: the detector's name for it; make(r) → { text, multiline }.
const kPlantable = {
  credit_card: (r) => ({ text: formatCard(r, cardNumber(r, { valid: true })) }),
  cn_resident_id: (r) => ({ text: formatResidentId(r, residentId(r, { valid: true })) }),
  iban: (r) => ({ text: formatIban(r, iban(r, { valid: true })) }),
  email: (r) => ({ text: email(r) }),
  cn_mobile: (r) => ({ text: cnMobile(r) }),
  phone: (r) => ({ text: phone(r) }),
  aws_access_key: (r) => ({ text: awsKey(r) }),
  github_token: (r) => ({ text: githubToken(r) }),
  api_key: (r) => ({ text: apiKey(r) }),
  jwt: (r) => ({ text: jwt(r) }),
  private_key: (r) => ({ text: privateKey(r), multiline: true }),
  ipv4: (r) => ({ text: ipv4(r) }), // detected, but every policy here ignores it
};
const kPiiTypes = Object.keys(kPlantable);

// Things that look like PII but are not: the detector must leave them alone.
const kNearMisses = [
  (r) => formatCard(r, cardNumber(r, { valid: false })),      // fails Luhn
  (r) => formatResidentId(r, residentId(r, { valid: false })), // wrong check character
  (r) => iban(r, { valid: false }),                            // wrong mod-97 check digits
  (r) => `sk-${r.pick(['learn', 'image', 'build'])}-style-kebab-case-names`,
  (r) => `ghp_${r.chars(kAlnum, 30)}`,                          // too short
  (r) => `AKIA${r.chars(kUpper + kDigits, 12)}`,                // too short
  (r) => `1${r.int(0, 2)}${r.digits(9)}`,                       // not a mobile prefix
  (r) => `order #${r.digits(8)}`,
  (r) => `${r.chars(kLower, 5)} at example dot com`,
  (r) => pem(r, r.pick(['PUBLIC KEY', 'CERTIFICATE'])),
  (r) => `version ${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 99)}`,
];

const kWords = ['please', 'review', 'the', 'attached', 'quarterly', 'summary', 'and', 'explain', 'why', 'our',
  'latency', 'budget', 'moved', 'between', 'regions', 'customer', 'ticket', 'notes', 'follow', 'up', 'kindly'];
const filler = (r, n) => Array.from({ length: n }, () => r.pick(kWords)).join(' ');

// Ways to wrap a planted value inside a message.
const kWrappers = [
  (r, v) => `${filler(r, r.int(2, 6))}: ${v}. ${filler(r, r.int(1, 4))}`,
  (r, v) => `请核对以下信息：${v}，谢谢。`,
  (r, v) => `Here is the config:\n\`\`\`\n[account]\nvalue = "${v}"\nowner = "ops"\n\`\`\`\n${filler(r, 3)}`,
  (r, v) => `\`\`\`json\n{"customer": {"note": "${v}", "tier": 2}}\n\`\`\``,
  (r, v) => `${filler(r, 3)}\n\n    ${v}\n\n${filler(r, 2)}`,
  (r, v) => `(${v})`,
  (r, v) => `| field | value |\n|---|---|\n| ${r.pick(kWords)} | ${v} |\n`,
  (r, v) => `${r.pick(kWords)}=${v};`,
];
// For fields that dsgw forwards as JSON (tools, metadata, user): one line, nothing to escape.
const kInlineWrappers = [(r, v) => `note ${v} end`, (r, v) => v];

// --- policies, as data: written as TOML for dsgw and evaluated by a small model here -------------

const kSecretsRestricted = {
  credit_card: 'restricted', cn_resident_id: 'restricted', private_key: 'restricted', aws_access_key: 'restricted',
  github_token: 'restricted', api_key: 'restricted',
};
const kDispatchDefaults = {
  prefer: 'order', max_attempts: 3, breaker_failures: 3, breaker_cooldown_ms: 400, retry_base_ms: 5, retry_cap_ms: 20,
};

// A: a rule prefers the foreign clouds for everything, another tries to send restricted data to eu.
const kPolicyA = {
  name: 'A',
  defaults: { data_class: 'internal', ...kDispatchDefaults },
  classes: [
    ['public', ['site', 'lan', 'eu', 'cn']],
    ['internal', ['site', 'lan', 'eu', 'cn']],
    ['confidential', ['site', 'lan']],
    ['restricted', ['site']],
  ],
  pii: {
    ...kSecretsRestricted, iban: 'restricted', jwt: 'restricted',
    email: 'confidential', cn_mobile: 'confidential', phone: 'confidential', ipv4: 'ignore', ipv6: 'ignore',
  },
  tenants: [{ name: 'team' }, { name: 'vault', data_class: 'confidential' }],
  rules: [
    { id: 'abroad-first', priority: 10, then: { order: ['cn', 'eu', 'lan', 'site'] } },
    {
      id: 'restricted-wants-eu', priority: 20, when: { data_class: ['restricted'] },
      then: { allow: ['eu', 'cn', 'site'], order: ['eu', 'cn', 'site'] },
    },
  ],
};

// B: other jurisdictions per class, other PII mapping, and a rule that allows mobiles only abroad.
const kPolicyB = {
  name: 'B',
  defaults: { data_class: 'public', ...kDispatchDefaults },
  classes: [
    ['public', ['cn', 'eu', 'lan', 'site']],
    ['internal', ['eu', 'lan', 'site']],
    ['confidential', ['lan', 'site']],
    ['restricted', ['site', 'lan']],
  ],
  pii: {
    ...kSecretsRestricted, iban: 'confidential', jwt: 'confidential',
    email: 'restricted', cn_mobile: 'internal', phone: 'internal', ipv4: 'ignore', ipv6: 'ignore',
  },
  tenants: [{ name: 'team' }, { name: 'vault', data_class: 'internal' }],
  rules: [
    { id: 'cheapest-first', priority: 10, then: { order: ['cn', 'eu', 'site', 'lan'] } },
    {
      id: 'mobiles-abroad', priority: 50, when: { pii: ['cn_mobile'] },
      then: { allow: ['cn', 'eu', 'lan'], order: ['cn', 'eu', 'lan'] },
    },
  ],
};

function policyToml(p) {
  const q = (v) => JSON.stringify(v);
  const value = (v) => (Array.isArray(v) ? `[${v.map(q).join(', ')}]` : q(v));
  const lines = [`# policy ${p.name}`, '[defaults]', ...Object.entries(p.defaults).map(([k, v]) => `${k} = ${value(v)}`), ''];
  for (const [name, jurisdictions] of p.classes) {
    lines.push('[[class]]', `name = ${q(name)}`, `jurisdictions = ${value(jurisdictions)}`, '');
  }
  lines.push('[pii]', ...Object.entries(p.pii).map(([k, v]) => `${k} = ${q(v)}`), '');
  for (const t of p.tenants) {
    lines.push('[[tenant]]', `name = ${q(t.name)}`, ...(t.data_class ? [`data_class = ${q(t.data_class)}`] : []), '');
  }
  for (const rule of p.rules) {
    lines.push('[[rule]]', `id = ${q(rule.id)}`, `priority = ${rule.priority}`);
    if (rule.when) lines.push('[rule.when]', ...Object.entries(rule.when).map(([k, v]) => `${k} = ${value(v)}`));
    lines.push('[rule.then]', ...Object.entries(rule.then).map(([k, v]) => `${k} = ${value(v)}`), '');
  }
  return `${lines.join('\n')}\n`;
}

// What the policy says about a request: its class, where it may go, and the kept backends in
// dispatch order (backends named in the order list first, in that order).
function model(policy, { tenant, hint, types }) {
  const rank = (name) => policy.classes.findIndex(([n]) => n === name);
  const tenantClass = policy.tenants.find((t) => t.name === tenant)?.data_class ?? policy.defaults.data_class;
  let classRank = Math.max(rank(tenantClass), hint ? rank(hint) : -1);
  for (const type of types) {
    const cls = policy.pii[type];
    if (cls && cls !== 'ignore') classRank = Math.max(classRank, rank(cls));
  }
  const [className, jurisdictions] = policy.classes[classRank];
  let allow = null;
  let order = null;
  const rules = policy.rules.map((rule, index) => ({ rule, index }))
    .sort((a, b) => b.rule.priority - a.rule.priority || a.index - b.index);
  for (const { rule } of rules) {
    const when = rule.when ?? {};
    if (when.data_class && !when.data_class.includes(className)) continue;
    if (when.pii && !when.pii.some((t) => types.includes(t))) continue;
    if (rule.then.allow) allow = allow ? allow.filter((b) => rule.then.allow.includes(b)) : [...rule.then.allow];
    order ??= rule.then.order;
  }
  const position = (b) => (order?.includes(b) ? order.indexOf(b) : 100 + kBackends.indexOf(b));
  const candidates = kBackends
    .filter((b) => jurisdictions.includes(b) && (!allow || allow.includes(b)))
    .sort((a, b) => position(a) - position(b));
  return { className, jurisdictions, candidates };
}

// --- request generation --------------------------------------------------------------------------

// One random request: returns { tag, tenant, hint, hintVia, types, values, body, stream }.
function generateRequest(r, index, policy) {
  const tag = `${kTagPrefix}${index.toString(36)}`;
  const tenant = r.chance(0.15) ? 'vault' : 'team';
  const kind = r.next();
  const types = [];
  if (kind < 0.62) {
    // One to three PII types.
    for (let n = r.chance(0.7) ? 1 : r.int(2, 3); n > 0; n--) types.push(r.pick(kPiiTypes));
  }
  const nearMisses = kind >= 0.62 && kind < 0.82 ? r.int(1, 2) : 0; // the rest: clean controls

  const turns = r.int(1, 4);
  const messages = [];
  if (turns >= 2) messages.push({ role: 'system', content: `You are a helpful assistant. ${filler(r, 4)}.` });
  if (turns >= 3) messages.push({ role: 'user', content: `Earlier question: ${filler(r, 6)}?` });
  if (turns >= 4) messages.push({ role: 'assistant', content: `Earlier answer: ${filler(r, 8)}.` });
  messages.push({ role: 'user', content: `${filler(r, r.int(3, 8))} ref ${tag}` });

  const body = { model: kModel, messages };
  const values = [];
  const used = new Set(); // passthrough fields hold one value each
  const plant = (text, multiline) => {
    let where = multiline ? r.int(0, 9) : r.int(0, 12);
    if (used.has(where)) where = r.int(0, 9);
    used.add(where);
    if (where <= 9) {
      // Into a message: prepended or appended, sometimes as content parts.
      const m = r.pick(messages);
      const wrapped = r.pick(kWrappers)(r, text);
      if (typeof m.content === 'string' && r.chance(0.2)) {
        m.content = [{ type: 'text', text: `${m.content}\n` }, { type: 'text', text: wrapped }];
      } else if (typeof m.content === 'string') {
        m.content = r.chance(0.5) ? `${wrapped}\n${m.content}` : `${m.content}\n${wrapped}`;
      } else {
        m.content.push({ type: 'text', text: ` ${wrapped}` });
      }
    } else if (where === 10) {
      const description = r.pick(kInlineWrappers)(r, text);
      const parameters = { type: 'object', properties: {} };
      body.tools = [{ type: 'function', function: { name: 'lookup', description, parameters } }];
    } else if (where === 11) {
      body.metadata = { ...(body.metadata ?? {}), customer_ref: r.pick(kInlineWrappers)(r, text) };
    } else {
      body.user = text;
    }
  };
  for (const type of types) {
    const { text, multiline } = kPlantable[type](r);
    values.push(text);
    plant(text, multiline || /[\n\r]/.test(text));
  }
  for (let n = 0; n < nearMisses; n++) {
    const text = r.pick(kNearMisses)(r);
    plant(text, /[\n\r]/.test(text));
  }

  // Hints: none, a header, or body metadata; PII requests often claim to be public.
  let hint;
  let hintVia;
  const h = r.next();
  if (h < 0.55) {
    hint = types.length > 0 && r.chance(0.5) ? 'public' : r.pick(policy.classes)[0];
    hintVia = h < 0.4 ? 'header' : 'metadata';
    if (hintVia === 'metadata') body.metadata = { ...(body.metadata ?? {}), data_class: hint };
  }
  const stream = r.chance(0.3);
  if (stream) body.stream = true;
  return { tag, tenant, hint, hintVia, types: [...new Set(types)], values, body, stream };
}

// --- running requests ----------------------------------------------------------------------------

async function send(dsgw, spec) {
  const headers = { authorization: `Bearer ${kKeys[spec.tenant]}` };
  if (spec.hintVia === 'header') headers['x-dsgw-data-class'] = spec.hint;
  const res = await openRequest(`${dsgw.url}/v1/chat/completions`, { method: 'POST', body: spec.body, headers });
  const out = { status: res.statusCode, backend: res.headers['x-dsgw-backend'], requestId: res.headers['x-request-id'] };
  if (res.statusCode === 200 && spec.stream) {
    const events = await collectSse(res);
    out.streamDone = events.at(-1)?.data === '[DONE]';
  } else {
    const text = await readBody(res);
    try {
      out.json = JSON.parse(text);
    } catch {
      out.text = text;
    }
  }
  return out;
}

async function runAll(dsgw, specs) {
  const results = new Array(specs.length);
  let next = 0;
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      results[i] = await send(dsgw, specs[i]);
    }
  };
  await Promise.all(Array.from({ length: kConcurrency }, worker));
  return results;
}

// tag -> names of the mocks that received it (every attempt counts).
function arrivals(mocks) {
  const seen = new Map();
  for (const [name, mock] of Object.entries(mocks)) {
    for (const req of mock.requests) {
      const match = kTagPattern.exec(req.rawBody.toString('utf8'));
      if (!match) continue;
      const tag = match[0];
      if (!seen.has(tag)) seen.set(tag, []);
      seen.get(tag).push(name);
    }
  }
  return seen;
}

function readAudit(dir) {
  const text = readFileSync(path.join(dir, 'state', 'decisions.jsonl'), 'utf8');
  return { text, byId: new Map(text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((l) => [l.request_id, l])) };
}

// The audit lines of `ids`, once all are written (dsgw writes each after the request ended).
async function auditFor(dir, ids) {
  for (let i = 0; ; i++) {
    const audit = readAudit(dir);
    if (ids.every((id) => audit.byId.has(id)) || i === 50) return audit;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const describeSpec = ({ tag, tenant, hint, hintVia, types, body }) =>
  JSON.stringify({ seed: kSeed, tag, tenant, hint, hintVia, types, body });

// --- the suite -----------------------------------------------------------------------------------

describe('data sovereignty under random PII traffic', () => {
  const dir = makeTempDir('dsgw-sovereignty-');
  const policyPath = path.join(dir, 'policy.toml');
  const mocks = {};
  const down = new Set(); // backends made unusable so far
  let dsgw;
  let seq = 0;
  const rng = new Rng(kSeed);
  const allValues = [];
  const stats = { requests: 0 };
  const earlierLines = []; // stderr of the dsgw processes before the last restart

  const config = () => ({
    server: serverConfig({ max_inflight: 64, workers: 96 }),
    policy: { file: 'policy.toml' },
    storage: { state_dir: 'state', audit_log: true },
    api_key: Object.entries(kKeys).map(([tenant, key]) => ({ sha256: sha256Hex(key), tenant })),
    backend: kBackends.map((name) => openaiBackend(mocks[name].baseUrl, {
      name, jurisdiction: name, models: [kModel], connect_timeout_ms: 1000, first_byte_timeout_ms: 5000,
    })),
  });

  before(async () => {
    for (const name of kBackends) mocks[name] = await startMockUpstream({ behaviour: { reasoning: [], content: ['ok'] } });
    writeFileSync(policyPath, policyToml(kPolicyA));
    dsgw = await startDsgw(config(), { dir });
  });

  after(async () => {
    await dsgw?.stop();
    for (const mock of Object.values(mocks)) await mock.close().catch(() => {});
  });

  // Sends `count` random requests under `policy` and checks every one of them.
  async function phase(policy, count, { revision } = {}) {
    const specs = Array.from({ length: count }, () => generateRequest(rng, seq++, policy));
    for (const spec of specs) allValues.push(...spec.values);
    const before = Object.fromEntries(Object.entries(mocks).map(([n, m]) => [n, m.requests.length]));
    const results = await runAll(dsgw, specs);
    const seen = arrivals(mocks);
    const audit = await auditFor(dir, results.map((res) => res.requestId).filter(Boolean));
    const healthy = kBackends.filter((b) => !down.has(b));
    const byClass = {};
    let failClosed = 0;
    let publicHintOnSensitive = 0;
    stats.requests += count;

    specs.forEach((spec, i) => {
      const res = results[i];
      const expected = model(policy, spec);
      const reached = seen.get(spec.tag) ?? [];
      const context = () => `\n${describeSpec(spec)}\nexpected ${JSON.stringify(expected)}` +
        `\ngot ${JSON.stringify({ ...res, reached })}`;
      byClass[expected.className] = (byClass[expected.className] ?? 0) + 1;
      if (spec.hint === 'public' && ['confidential', 'restricted'].includes(expected.className)) publicHintOnSensitive++;

      // The property: nothing ever reached a backend outside the class's jurisdictions.
      for (const backend of reached) {
        assert.ok(expected.jurisdictions.includes(backend),
          `SOVEREIGNTY VIOLATED: a ${expected.className} request reached ${backend}${context()}`);
      }
      const audited = audit.byId.get(res.requestId);
      assert.ok(audited, `no audit line for ${res.requestId}${context()}`);
      assert.equal(audited.class, expected.className, `audit class${context()}`);
      assert.deepEqual([...audited.pii].sort(), [...spec.types].sort(), `audit pii types${context()}`);
      if (revision) assert.equal(audited.policy_revision, revision, `audit policy_revision${context()}`);

      const serving = expected.candidates.find((b) => healthy.includes(b));
      if (serving) {
        assert.equal(res.status, 200, `status${context()}`);
        if (spec.stream) assert.ok(res.streamDone, `stream did not end with [DONE]${context()}`);
        assert.ok(reached.includes(serving), `expected ${serving} to answer${context()}`);
        assert.equal(res.backend, serving, `X-Dsgw-Backend${context()}`);
        if (down.size === 0) assert.deepEqual(reached, [serving], `all up: exactly one upstream request${context()}`);
      } else {
        assert.ok([502, 503, 504].includes(res.status), `expected an error, got ${res.status}${context()}`);
        const codes = ['no_allowed_backend', 'upstream_error', 'backend_unavailable', 'upstream_timeout'];
        assert.ok(codes.includes(res.json?.error?.code), `error code${context()}`);
        assert.equal(audited.backend, null, `audit backend${context()}`);
        if (res.json.error.code === 'no_allowed_backend') failClosed++;
      }
    });
    // The generator must actually exercise every class and both ways of failing.
    const lower = (byClass.public ?? 0) + (byClass.internal ?? 0);
    const counts = [['confidential', byClass.confidential], ['restricted', byClass.restricted], ['public/internal', lower]];
    for (const [label, n] of counts) {
      assert.ok((n ?? 0) >= 20, `only ${n ?? 0} ${label} requests: ${JSON.stringify(byClass)}`);
    }
    assert.ok(publicHintOnSensitive >= 20, `only ${publicHintOnSensitive} sensitive requests were hinted public`);
    const sent = Object.fromEntries(Object.entries(mocks).map(([n, m]) => [n, m.requests.length - before[n]]));
    return { byClass, failClosed, sent };
  }

  it('policy A, every backend up: each request goes where its class allows, to the preferred backend', async () => {
    const { sent } = await phase(kPolicyA, 700);
    assert.ok(sent.cn > 100 && sent.site > 100 && sent.lan > 50, `traffic per backend: ${JSON.stringify(sent)}`);
  });

  it('policy B via POST /admin/reload, every backend up', async () => {
    writeFileSync(policyPath, policyToml(kPolicyB));
    const reload = await request(`${dsgw.url}/admin/reload`, { method: 'POST' });
    assert.equal(reload.status, 200, reload.text);
    const { sent } = await phase(kPolicyB, 700, { revision: reload.json.policy_revision });
    assert.ok(sent.cn > 50 && sent.eu > 50 && sent.site > 100 && sent.lan > 5, `traffic per backend: ${JSON.stringify(sent)}`);
  });

  it('policy B with the on-site server failing (503) and the LAN box gone: restricted and confidential fail closed', async () => {
    mocks.site.setBehaviour({ status: 503, errorMessage: 'site down' });
    await mocks.lan.close();
    down.add('site').add('lan');
    const { failClosed, sent } = await phase(kPolicyB, 400);
    assert.ok(failClosed > 20, `only ${failClosed} requests were refused with no_allowed_backend`);
    assert.ok(sent.site > 0, 'the failing site backend was never even tried');
  });

  it('policy A after a restart on the same state dir, same outage', async () => {
    await dsgw.stop();
    earlierLines.push(...dsgw.lines);
    writeFileSync(policyPath, policyToml(kPolicyA));
    dsgw = await startDsgw(config(), { dir });
    const { failClosed } = await phase(kPolicyA, 400);
    assert.ok(failClosed > 20, `only ${failClosed} requests were refused with no_allowed_backend`);
    assert.ok(stats.requests >= 2000, `only ${stats.requests} random requests`);
  });

  it('never writes prompt text or PII values to the audit log or the logs', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const audit = readFileSync(path.join(dir, 'state', 'decisions.jsonl'), 'utf8');
    const logs = [...earlierLines, ...dsgw.lines].join('\n');
    assert.ok(audit.length > 0 && logs.length > 0);
    assert.doesNotMatch(audit, kTagPattern, 'prompt text (a request tag) in the audit log');
    assert.doesNotMatch(logs, kTagPattern, 'prompt text (a request tag) in the logs');
    // Each value as planted, and its digits alone when it has many (cards, IDs, phones, IBANs).
    const needles = new Set();
    for (const value of allValues) {
      for (const line of value.split(/\r?\n/)) if (line.trim().length >= 8) needles.add(line.trim());
      const digits = value.replace(/[^0-9]/g, '');
      if (digits.length >= 9) needles.add(digits);
    }
    const both = `${audit}\n${logs}`;
    for (const needle of needles) {
      if (!both.includes(needle)) continue;
      assert.ok(!audit.includes(needle), `a PII value is in the audit log: ${JSON.stringify(needle)}`);
      assert.fail(`a PII value is in dsgw's logs: ${JSON.stringify(needle)}`);
    }
  });
});

// Targeted: places where a sensitive value can ride along to the upstream besides message text.
describe('data sovereignty: every forwarded field is scanned', () => {
  const dir = makeTempDir('dsgw-sovereignty-fields-');
  const mocks = {};
  let dsgw;
  const card = '4111 1111 1111 1111';

  before(async () => {
    for (const name of kBackends) mocks[name] = await startMockUpstream({ behaviour: { reasoning: [], content: ['ok'] } });
    writeFileSync(path.join(dir, 'policy.toml'), policyToml(kPolicyA));
    dsgw = await startDsgw({
      server: serverConfig(),
      policy: { file: 'policy.toml' },
      storage: { state_dir: 'state', audit_log: true },
      api_key: Object.entries(kKeys).map(([tenant, key]) => ({ sha256: sha256Hex(key), tenant })),
      backend: kBackends.map((name) => openaiBackend(mocks[name].baseUrl, { name, jurisdiction: name, models: [kModel] })),
    }, { dir });
  });

  after(async () => {
    await dsgw?.stop();
    for (const mock of Object.values(mocks)) await mock.close();
  });

  let n = 0;
  async function where(body, { endpoint = '/v1/chat/completions', headers = {} } = {}) {
    const tag = `${kTagPrefix}f${n++}`;
    const tagged = endpoint === '/v1/completions'
      ? { ...body, prompt: `${body.prompt} ${tag}` }
      : { ...body, messages: [...body.messages, { role: 'user', content: `and ${tag}` }] };
    const res = await request(`${dsgw.url}${endpoint}`, {
      method: 'POST', body: tagged, headers: { authorization: `Bearer ${kKeys.team}`, ...headers },
    });
    return { res, reached: arrivals(mocks).get(tag) ?? [] };
  }

  it('control: clean requests go abroad, a card in the text stays on site', async () => {
    const clean = await where({ model: kModel, messages: [{ role: 'user', content: 'hello' }] });
    assert.deepEqual(clean.reached, ['cn']);
    const withCard = await where({ model: kModel, messages: [{ role: 'user', content: `card ${card}` }] });
    assert.equal(withCard.res.status, 200);
    assert.deepEqual(withCard.reached, ['site']);
  });

  it('a card in /v1/completions prompt stays on site', async () => {
    const { res, reached } = await where({ model: kModel, prompt: `charge ${card}` }, { endpoint: '/v1/completions' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(reached, ['site']);
  });

  it('an unknown X-Dsgw-Data-Class is a 400 and reaches no backend', async () => {
    const { res, reached } = await where({ model: kModel, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-dsgw-data-class': 'top-secret' } });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(reached, []);
  });

  // Each of these sends the value where dsgw forwards it upstream; it must stay on site.
  const staysOnSite = async (body) => {
    const { res, reached } = await where(body);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(reached, ['site'], `a restricted value reached ${reached}`);
  };

  it('a card in an assistant turn\'s tool_calls arguments stays on site',
    () => staysOnSite({
      model: kModel,
      messages: [
        { role: 'user', content: 'pay the invoice' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'pay', arguments: JSON.stringify({ card }) } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'paid' },
      ],
    }));

  it('a card in a stop sequence stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'hi' }], stop: [card] }));

  it('a card in a text part that follows a part ending in a letter stays on site',
    () => staysOnSite({
      model: kModel,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Please charge the card' }, { type: 'text', text: card }] }],
    }));

  it('a secret in an extra field of a message stays on site',
    () => staysOnSite({
      model: kModel,
      messages: [{ role: 'user', content: 'see attachment', attachment_note: 'key AKIAIOSFODNN7EXAMPLE' }],
    }));

  // Forms people paste: digit groups joined by tabs or several spaces, dashed IBANs, addresses at
  // internationalised domains.
  it('a card copied from a spreadsheet (tab-separated groups) stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'card\t4111\t1111\t1111\t1111' }] }));

  it('a card with two spaces between groups stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'card 4111  1111  1111  1111' }] }));

  it('an IBAN grouped with dashes stays on site',
    () => staysOnSite({ model: kModel, messages: [{ role: 'user', content: 'iban DE89-3704-0044-0532-0130-00' }] }));

  it('an e-mail address at an internationalised domain is not sent abroad',
    async () => {
      for (const address of ['li@例子.中国', 'li.wei@xn--fsqu00a.xn--fiqs8s']) {
        const { reached } = await where({ model: kModel, messages: [{ role: 'user', content: `mail ${address}` }] });
        assert.deepEqual(reached.filter((b) => b === 'cn' || b === 'eu'), [], `${address} reached ${reached}`);
      }
    });
});
