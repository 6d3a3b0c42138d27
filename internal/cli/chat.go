package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/loftml/loft/generate"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/tokenizer"
	"github.com/loftml/loft/tokenizer/chat"
)

// endOfTurnMarkers are the texts chat templates close a turn with. One
// that the template uses ends a reply: as an EOS id when the tokenizer has
// it as a single token, else as a stop string.
var endOfTurnMarkers = []string{"<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|end_of_text|>", "<|endoftext|>"}

func newChatCmd() *cobra.Command {
	var (
		modelRef, system, templateName string
		verbose                        bool
		sf                             samplingFlags
	)
	cmd := &cobra.Command{
		Use:   "chat",
		Short: "Talk with an instruct model through its chat template",
		Long: `chat holds a conversation with an instruct model, formatted by the model's
chat template. On a terminal it prompts with "> " for each message (/reset
starts over, /exit or end of input leaves; Ctrl-C ends the reply being
written, which is dropped with its message, and at the prompt ends chat).
From piped stdin it reads one user message per line and prints each reply
followed by a newline.

A reply ends at the model's end-of-sequence token or the template's end-of-turn
token (such as <|im_end|>), or after --max-new-tokens.

A model without a chat template is an error; --chat-template chatml uses the
ChatML format instead, --chat-template NAME picks one of the model's named
templates, and --chat-template FILE reads a Jinja template from a file (a
name ending in .jinja or holding a path separator is always a file; another
is one when the model has no template of that name).

--model is a model folder, a .gguf file or a folder holding one, or a Hugging
Face Hub id.

` + samplingHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if modelRef == "" {
				return usageErrorf("chat: --model is required")
			}
			if err := sf.check(f); err != nil {
				return err
			}
			defer setThreads(sf.threads)()
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			b, err := loadGenModel(cmd.Context(), modelRef, stderr)
			if err != nil {
				return err
			}
			if err := applyAdapter(b, sf.adapter.dir(), stderr); err != nil {
				return err
			}
			tmpl, err := chatTemplate(b, templateName)
			if err != nil {
				return err
			}
			samp, err := sf.resolve(f, b.Gen, stderr)
			if err != nil {
				return err
			}
			eos, stops := endOfTurn(b, tmpl)
			in := cmd.InOrStdin()
			term := isTerminal(in)
			// Piped, the line is left out unless it holds a drawn seed,
			// which a run needs to be repeated.
			if term || verbose || !samp.Greedy() && !f.Changed("seed") {
				fmt.Fprintf(stderr, "loft: %s, template %q; %s\n", modelRef, tmpl.Name(), describeSampling(samp))
			}
			var msgs []chat.Message
			if system != "" {
				msgs = append(msgs, chat.Message{Role: "system", Content: system})
			}
			next := lineReader(in)
			newDecoder := generate.NewTextDecoder(b.Tokenizer, true)
			sess := generate.NewSession(b.LM) // each turn runs only its new tokens
			for turn := 0; ; {
				if term {
					fmt.Fprint(stdout, "> ")
				}
				line, ok, err := next(cmd.Context())
				if !ok {
					if term {
						fmt.Fprintln(stdout) // end the "> " line
					}
					return err
				}
				line = strings.TrimRight(line, "\r")
				if strings.TrimSpace(line) == "" {
					continue
				}
				if term {
					switch strings.TrimSpace(line) {
					case "/exit", "/quit", "/bye":
						return nil
					case "/reset":
						sess.Reset()
						msgs = msgs[:0]
						if system != "" {
							msgs = append(msgs, chat.Message{Role: "system", Content: system})
						}
						continue
					}
				}
				msgs = append(msgs, chat.Message{Role: "user", Content: line})
				rendered, err := tmpl.Render(msgs, chat.RenderOptions{AddGenerationPrompt: true})
				if err != nil {
					return err
				}
				ids := b.Tokenizer.Encode(rendered, false)
				if n := b.LM.ContextLength(); len(ids) > n {
					err := fmt.Errorf("the conversation has %d tokens, more than the model's context length of %d", len(ids), n)
					if !term {
						return err
					}
					fmt.Fprintf(stderr, "loft: %v; /reset starts over\n", err)
					msgs = msgs[:len(msgs)-1]
					continue
				}
				s := samp
				s.Seed += uint64(turn) // a fresh random stream per reply
				turn++
				// On a terminal Ctrl-C ends the reply, which is dropped with
				// its question, and chat goes back to its prompt, as in
				// llama.cpp and Ollama; at the prompt it ends chat.
				ctx, endReply := context.WithCancel(cmd.Context())
				release := func() {}
				if term {
					release = interrupterOf(cmd.Context()).take(endReply)
				}
				res, err := sess.Generate(ctx, generate.Request{
					Prompt: ids, Sampling: s, MaxNewTokens: sf.maxNew, Stop: stops,
				}, generate.Options{
					EOS: eos, NewDecoder: newDecoder,
					Stream: func(_ int, s string) error { _, err := io.WriteString(stdout, s); return err },
				})
				release()
				interrupted := err != nil && ctx.Err() != nil && cmd.Context().Err() == nil
				endReply()
				if interrupted {
					fmt.Fprintln(stdout)
					fmt.Fprintln(stderr, "loft: reply interrupted (Ctrl-C at the prompt ends chat)")
					msgs = msgs[:len(msgs)-1]
					continue
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout)
				r, st := res.Rows[0], res.Stats
				if verbose {
					fmt.Fprintf(stderr, "loft: prompt %d tokens (%d reused), prefill %.1f tokens/s; generated %d tokens, decode %.1f tokens/s; stopped: %v\n",
						st.PromptTokens+st.CachedTokens, st.CachedTokens, st.PrefillRate(), st.Generated, st.DecodeRate(), r.Reason)
				}
				if r.Reason == generate.StopContext {
					fmt.Fprintf(stderr, "loft: the reply stopped: the model's context of %d tokens is full\n", b.LM.ContextLength())
				}
				msgs = append(msgs, chat.Message{Role: "assistant", Content: r.Text})
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelRef, "model", "", "model folder, .gguf file or Hugging Face Hub id")
	f.StringVar(&system, "system", "", "system message that opens the conversation")
	f.StringVar(&templateName, "chat-template", "", `chat template: one of the model's by name, "chatml", or a Jinja file (default: the model's own)`)
	f.BoolVar(&verbose, "verbose", false, "print speed and the stop reason of each reply on stderr")
	sf.register(f, 512)
	return cmd
}

// lineReader returns a function that waits for the next line of in, or
// for ctx to end. It reports ok false at the end of in (err nil) and on a
// read error or a cancelled ctx (err set). The line is read on a goroutine
// of its own, one line per call: a read from a terminal cannot be
// interrupted, so Ctrl-C at the "> " prompt, which cancels ctx, would wait
// for Enter (llama.cpp's interactive mode exits at once with 130). A read
// left waiting ends with the process.
func lineReader(in io.Reader) func(ctx context.Context) (line string, ok bool, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	type scanned struct {
		line string
		ok   bool
		err  error
	}
	return func(ctx context.Context) (string, bool, error) {
		if err := ctx.Err(); err != nil {
			return "", false, err
		}
		got := make(chan scanned, 1) // the goroutine never blocks on it
		go func() {
			if sc.Scan() {
				got <- scanned{line: sc.Text(), ok: true}
				return
			}
			err := sc.Err()
			if err != nil {
				err = fmt.Errorf("chat: reading stdin: %w", err)
			}
			got <- scanned{err: err}
		}()
		select {
		case s := <-got:
			return s.line, s.ok, s.err
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
	}
}

// chatTemplate returns the template called name: the model's own (name
// ""), one of its named templates, the built-in ChatML when name is
// "chatml" and the model has no template of that name, or the Jinja file
// name. A name that ends in ".jinja" or holds a path separator is always a
// file; any other is a file when the model has no template of that name
// and a file of that name exists, whatever its extension (t.j2).
func chatTemplate(b *model.Bundle, name string) (*chat.Template, error) {
	var names []string
	if b.Chat != nil {
		names = b.Chat.Names()
	}
	isPath := strings.HasSuffix(name, ".jinja") || strings.ContainsRune(name, '/') || strings.ContainsRune(name, filepath.Separator)
	switch {
	case name == "":
		if b.Chat == nil {
			return nil, fmt.Errorf("chat: %s has no chat template (no tokenizer_config.json with chat_template, no chat_template.jinja, no GGUF tokenizer.chat_template); --chat-template chatml uses the ChatML format, --chat-template FILE reads a Jinja template from FILE", b.Path)
		}
		t, err := b.Chat.Template(name)
		if err != nil {
			return nil, fmt.Errorf("%w (--chat-template chatml uses the ChatML format)", err)
		}
		return t, nil
	case !isPath && slices.Contains(names, name):
		return b.Chat.Template(name)
	case !isPath && name == "chatml":
		return chat.ChatML(), nil
	}
	st, err := os.Stat(name)
	switch {
	case err == nil && st.IsDir():
		return nil, fmt.Errorf("chat: --chat-template %s is a directory, not a template file", name)
	case err == nil && !st.Mode().IsRegular():
		return nil, fmt.Errorf("chat: --chat-template %s is not a regular file", name)
	case err == nil:
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("chat: --chat-template: %w", err)
		}
		var special map[string]string
		if b.Chat != nil {
			special = b.Chat.Special
		}
		return chat.New(filepath.Base(name), name, string(src), special)
	case isPath:
		return nil, fmt.Errorf("chat: --chat-template: %w", err)
	}
	has := "it has none"
	if len(names) > 0 {
		has = "it has " + strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("chat: --chat-template %s: the model has no chat template named %q (%s), and there is no file of that name; --chat-template chatml uses the ChatML format, --chat-template FILE reads a Jinja template from FILE", name, name, has)
}

// endOfTurn returns the ids and stop strings that end a reply: the model's
// EOS ids, and each end-of-turn marker the template writes.
func endOfTurn(b *model.Bundle, t *chat.Template) (eos []int, stops []string) {
	eos = slices.Clone(b.Gen.EOS)
	for _, m := range endOfTurnMarkers {
		if !strings.Contains(t.Source(), m) {
			continue
		}
		if id, ok := tokenID(b, m); ok {
			if !slices.Contains(eos, id) {
				eos = append(eos, id)
			}
			continue
		}
		stops = append(stops, m)
	}
	return eos, stops
}

// tokenID returns the id of the token whose vocabulary entry is s, added
// and special tokens (<|im_end|>) included, when the tokenizer has one.
func tokenID(b *model.Bundle, s string) (int, bool) {
	if p, ok := b.Tokenizer.(*tokenizer.Pipeline); ok {
		return p.ID(s)
	}
	return 0, false
}

// isTerminal tells whether stream (a reader or writer) is a terminal. A
// character device is not enough: /dev/null, which cron and systemd give as
// stdin, is one too. golang.org/x/term asks the terminal driver, on every
// platform Go runs.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
