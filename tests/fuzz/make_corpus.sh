#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into OUTDIR/<target>/, from the test fixtures (no
# binary corpus is committed): binary seeds from make_seeds (GGUF and safetensors files built by
# tests/fixtures), JSON and text seeds below and from tests/data. Usage:
#   tests/fuzz/make_corpus.sh OUTDIR MAKE_SEEDS_PROGRAM
set -euo pipefail
out="$1"
make_seeds="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$out"
"$make_seeds" "$out"

seed() { # target name: the content on stdin
    mkdir -p "$out/$1"
    cat >"$out/$1/$2"
}

# ---- config.json (lib/format/hf_config.c) ----
seed fuzz_hf_config llama.json <<'J'
{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":2048,"intermediate_size":8192,"num_attention_heads":32,"num_hidden_layers":16,"num_key_value_heads":8,"head_dim":64,"max_position_embeddings":131072,"rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"tie_word_embeddings":true,"vocab_size":128256}
J
seed fuzz_hf_config qwen3.json <<'J'
{"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","hidden_size":1024,"intermediate_size":3072,"num_attention_heads":16,"num_hidden_layers":28,"num_key_value_heads":8,"head_dim":128,"max_position_embeddings":40960,"rms_norm_eps":1e-06,"rope_theta":1000000,"rope_scaling":null,"sliding_window":null,"vocab_size":151936}
J
seed fuzz_hf_config gemma3.json <<'J'
{"architectures":["Gemma3ForConditionalGeneration"],"model_type":"gemma3","text_config":{"model_type":"gemma3_text","hidden_size":640,"intermediate_size":2048,"num_attention_heads":4,"num_hidden_layers":18,"num_key_value_heads":1,"head_dim":256,"max_position_embeddings":32768,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"rope_local_base_freq":10000.0,"rope_scaling":{"factor":8.0,"rope_type":"linear"},"sliding_window":512,"query_pre_attn_scalar":256,"vocab_size":262144}}
J
seed fuzz_hf_config qwen2.json <<'J'
{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,"num_attention_heads":14,"num_hidden_layers":24,"num_key_value_heads":2,"max_position_embeddings":32768,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"use_sliding_window":false,"sliding_window":32768,"tie_word_embeddings":true,"vocab_size":151936}
J

# ---- model.safetensors.index.json ----
seed fuzz_safetensors_index index.json <<'J'
{"metadata":{"total_size":1024},"weight_map":{"a.weight":"model-00001-of-00002.safetensors","b.weight":"model-00002-of-00002.safetensors","c":"model-00001-of-00002.safetensors"}}
J
seed fuzz_safetensors_index bad.json <<'J'
{"weight_map":{"a":"../x.safetensors","b":"dir/y.safetensors","c":""}}
J

# ---- tokenizer.json (and tokenizer_config.json after "\n\x01\n") ----
seed fuzz_tokenizer_json spm.json <<'J'
{"added_tokens":[{"id":0,"content":"<unk>","special":true},{"id":1,"content":"<s>","special":true},{"id":2,"content":"</s>","special":true,"lstrip":false,"rstrip":true,"single_word":false,"normalized":false}],"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},"pre_tokenizer":null,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},"model":{"type":"BPE","dropout":null,"unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,"vocab":{"<unk>":0,"<s>":1,"</s>":2,"<0x41>":3,"<0xC3>":4,"<0xA9>":5,"<0xE2>":6,"<0x96>":7,"<0x81>":8,"▁":9,"a":10,"b":11,"▁a":12,"ab":13,"▁ab":14},"merges":["▁ a","a b","▁a b"]}}
J
seed fuzz_tokenizer_json bytelevel.json <<'J'
{"added_tokens":[{"id":8,"content":"<|endoftext|>","special":true}],"normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]},"post_processor":{"type":"ByteLevel"},"decoder":{"type":"ByteLevel"},"model":{"type":"BPE","ignore_merges":true,"vocab":{"a":0,"b":1,"Ġ":2,"Ġa":3,"ab":4,"Ġab":5,"c":6,"Ċ":7},"merges":[["Ġ","a"],["a","b"],["Ġa","b"]]}}
J
printf '%s\n\001\n%s' '{"model":{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2},"merges":[]},"added_tokens":[{"id":0,"content":"<s>","special":true}]}' \
    '{"bos_token":"<s>","eos_token":{"content":"</s>"},"add_bos_token":true,"chat_template":"{{ bos_token }}"}' |
    seed fuzz_tokenizer_json with_config.json
seed fuzz_tokenizer_json decoder_replace.json <<'J'
{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"a"},"content":"aa"},{"type":"Replace","pattern":{"String":"b"},"content":""}]}}
J

# ---- tokenize: byte 0 picks the tokenizer and flags, the rest is text ----
printf '\000Hello world, this is a test.' | seed fuzz_tokenize gemma3_text
printf '\001<bos>héllo <start_of_turn>user\n😀' | seed fuzz_tokenize llama2_text
printf '\002 I'"'"'m fine\t\t123 한국어' | seed fuzz_tokenize llama3_text
printf '\003<|im_start|>user\n你好<|im_end|>\xff\xfe' | seed fuzz_tokenize qwen3_text

# ---- chat: byte 0 picks the template (and bit 7 the generation prompt); messages split by 0x1E,
# each a role byte modulo 5 (0 system, 1 user, 2 assistant, 3 tool, 4 named up to 0x1F; a NUL ends the input) and its content ----
for t in 0 1 2 3 4 5; do
    printf "\\$(printf '%03o' $((t + 128)))\\005You are kind.\\036\\001Hi there\\036\\002Hello!\\036\\001How are you?" |
        seed fuzz_chat "conversation_$t"
    printf "\\$(printf '%03o' "$t")\\001 only user " | seed fuzz_chat "user_$t"
done
