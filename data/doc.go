// Package data turns training files into token ids with a per-token loss
// mask, and the examples into (ids, targets) batches for the trainer.
//
// # Files
//
// A .txt file is raw text for continued pretraining: it is tokenized whole
// ([BOS] + text + [EOS]) and cut into consecutive blocks of SeqLen tokens,
// as Hugging Face's run_clm does (only the first block starts with BOS; a
// last block shorter than SeqLen is kept when it has two tokens or more).
//
// Any other file is JSON Lines, one example per non-empty line. Its format
// is detected from the keys of its first non-empty line (Config.Format
// forces one):
//
//	{"messages": [{"role", "content"}, ...]}    chat ("tools" optional)
//	{"prompt": ..., "completion": ...}          completion
//	{"instruction", "input", "output"}          alpaca ("input" optional)
//	{"text": ...}                               text
//
// in that order of precedence; other keys are ignored. A line that is not
// JSON, lacks a field of the file's format, or holds an empty or non-string
// field is an error naming the file, the line and the problem.
//
// # Examples and loss masks
//
// An Example holds IDs and Labels of equal length; Labels[i] is IgnoreIndex
// (-100) where token i does not count in the loss, else IDs[i].
//
//   - text: [BOS when Config.AddBOS] + Encode(text) + [EOS]; every token
//     counts but the leading BOS (never a target anyway).
//   - completion: prompt+completion is tokenized as ONE string, because
//     tokenizing the two separately changes SentencePiece ids. The loss
//     starts at the boundary b = the length of the longest common prefix of
//     Encode(prompt) and Encode(prompt+completion), what trl's prompt-
//     completion path and mlx-lm effectively do: when the last prompt
//     token merges with the first completion characters, that merged token
//     counts. BOS and EOS as for text; the EOS counts. With Config.Chat the
//     pair is rendered as a user turn and an assistant turn through the chat
//     template instead, as mlx-lm does.
//   - alpaca: the Stanford Alpaca prompt (with or without input) as the
//     prompt and the output as the completion; with Config.Chat the
//     instruction (+ "\n" + input, as LLaMA-Factory joins them) is the user
//     turn and the output the assistant turn.
//   - chat: exactly what the chat template renders without a generation
//     prompt, tokenized with addSpecial=false, so BOS/EOS are what the
//     template writes and never added twice. A message may carry
//     "reasoning_content", "tool_calls" (then "content" may be null or
//     empty), "tool_call_id" and "name", and the line "tools" (function
//     schemas): the template gets them as transformers'
//     apply_chat_template(messages, tools=...) passes them. Only the
//     assistant turns count: from the end of the turn's header (the
//     generation prompt) to the end of the turn, so that a think block the
//     template renders before the content (from reasoning_content, or
//     Qwen3's empty one) counts as mlx-lm and TRL's qwen3_training.jinja
//     count it, and so do the tool calls and the end-of-turn token
//     (<|im_end|>, </s>) it writes after the content, as trl's
//     assistant_only_loss counts the text of a template's generation
//     block; that teaches the model to call tools and to end its turn.
//     When the turn's end is not found after the content, the tokens after
//     the content up to and including the first special token count, when
//     only whitespace lies between.
//     The contents are found by rendering the conversation turn
//     by turn when every rendering is a prefix of the next (each assistant
//     content is searched in its own turn's text), else (Qwen3 drops earlier
//     turns' reasoning) by searching each content in order in the final
//     rendering, after its assistant header, as chat.AssistantSpans does
//     (the header skip keeps a short answer such as "a" from being found
//     inside "<|im_start|>assistant").
//     Character offsets become token positions by encoding the rendering's
//     prefix up to each offset and taking the common prefix of its ids with
//     the whole encoding (the ids of the example are always the whole
//     encoding, unchanged).
//
// Config.TrainOnPrompt makes every token count (the leading BOS aside).
// Examples longer than SeqLen are truncated (Dataset.Truncated counts
// them); an example left with no counted target (a counted label after
// its first token) is dropped (Dataset.Dropped).
//
// Chat templates that print dates (strftime_now) render the day the data
// is loaded unless Config.RenderOptions.Now is set; a run resumed on
// another day then sees other ids for such templates.
//
// # Batches
//
// A Batcher yields (ids, targets) (B, T) int32 arrays where targets[b*T+t]
// is the token position t must predict: IDs[t+1] when Labels[t+1] counts,
// else IgnoreIndex; the last position is IgnoreIndex. Rows are right-padded
// with the pad id (PadID) and IgnoreIndex targets. T is the longest example
// of the batch rounded up to a multiple of 8 (at most SeqLen), or exactly
// SeqLen with packing or FixedLength. Batch.Tokens counts the targets that
// are not IgnoreIndex, for token-weighted loss averaging.
//
// Without shuffling, batch k holds examples k·B … k·B+B−1 in file order (no
// sorting by length; the last batch may be smaller). With shuffling, epoch
// e uses a permutation seeded by (Seed, e), so any batch of any epoch can be
// rebuilt from its numbers alone, which is what a resumed run needs.
//
// Packing places whole examples one after another into rows of SeqLen
// tokens, in file order, once; shuffling then permutes the rows. Attention
// does cross example boundaries inside a row (no block-diagonal mask), as in
// mlx-lm's and trl's simple packing. Each example keeps its own labels, and
// the first token of each packed example is never a target, so a packed
// row counts exactly the targets the examples count unpacked.
package data
