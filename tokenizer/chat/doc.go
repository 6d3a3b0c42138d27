// Package chat loads and renders the chat templates that Hugging Face model
// folders ship: the Jinja source in tokenizer_config.json's "chat_template"
// (a string, or a list of {"name", "template"} objects) or in a separate
// chat_template.jinja file, together with the special-token settings
// (bos_token, eos_token, unk_token, pad_token, add_bos_token, add_eos_token,
// model_max_length) that a prompt builder needs, with those of
// special_tokens_map.json where transformers reads that file.
//
// Rendering follows transformers' apply_chat_template: the template is Jinja
// with trim_blocks and lstrip_blocks on, sees the variables messages,
// add_generation_prompt, tools, documents, the special tokens that are set,
// enable_thinking only when the caller sets it, and any extra keyword
// arguments, and may call raise_exception and strftime_now.
//
// The Jinja engine is github.com/ardanlabs/jinja, a pure-Go engine written for
// chat templates. Before compiling, prepare.go resolves Jinja2's whitespace
// control itself (the engine's trim_blocks/lstrip_blocks differ) and routes
// printing and |tojson through Python-exact functions (pyformat.go); the
// tests compare with Python's Jinja2 on fixtures in testdata/, and list the
// engine differences that remain.
//
// A ChatML template is available through ChatML for models without one, but
// only when the caller asks for it: a model folder without a template is an
// error, never a silent fallback.
//
// For loss masks: RenderGeneration returns the spans of a template's
// {% generation %} blocks when it has them; otherwise AssistantSpans finds
// each assistant message's content in a rendering, and PrefixStable tells
// whether rendering turn by turn only appends.
//
// This package imports nothing of the project.
package chat
