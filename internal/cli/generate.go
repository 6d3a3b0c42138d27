package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loftml/loft/generate"
	"github.com/loftml/loft/hub"
	"github.com/loftml/loft/kernels"
	"github.com/loftml/loft/model"
	"github.com/loftml/loft/tokenizer"
)

// samplingHelp explains where the sampling settings come from; generate
// and chat share it.
const samplingHelp = `Sampling: with no sampling flags, a model whose generation_config.json sets
do_sample true samples with that file's temperature, top_k (50 when unset, as in
transformers), top_p, min_p and repetition_penalty, as Hugging Face's generate does; any
other model decodes greedily, as mlx-lm and transformers do by default. A flag
overrides the file; --temperature 0 is always greedy. The steps run in
transformers' order: repetition penalty, temperature, top-k, top-p, min-p.
Without --seed each run draws a random seed and prints it on stderr, so a run can
be repeated. Without --max-new-tokens, generation_config.json's max_new_tokens
applies where it is set; its max_length, a limit on prompt and output together,
does not: --max-new-tokens keeps its default, as in mlx-lm and llama.cpp.`

// samplingFlags are the command-line settings of the sampler.
type samplingFlags struct {
	temperature, topP, minP, repPenalty float64
	topK                                int
	seed                                uint64
	maxNew, threads                     int
	adapter                             adapterFlag // --adapter: a PEFT LoRA folder (applyAdapter, merge.go)
}

// adapterFlag is --adapter. It keeps every value given so that check can
// refuse a second one: a plain string flag keeps the last and would drop
// the first adapter without a word.
type adapterFlag []string

func (a *adapterFlag) String() string {
	if len(*a) == 0 {
		return ""
	}
	return (*a)[len(*a)-1]
}

func (a *adapterFlag) Set(v string) error { *a = append(*a, v); return nil }
func (a *adapterFlag) Type() string       { return "string" }

// dir returns the adapter folder, "" when none was given.
func (a adapterFlag) dir() string { return a.String() }

func (s *samplingFlags) register(f *pflag.FlagSet, maxNewDefault int) {
	f.Float64Var(&s.temperature, "temperature", 0, "sampling temperature; 0 is greedy (default: see Sampling)")
	f.IntVar(&s.topK, "top-k", 0, "keep the k most likely tokens; 0 is off")
	f.Float64Var(&s.topP, "top-p", 1, "nucleus sampling: keep the most likely tokens up to this probability mass; 1 is off")
	f.Float64Var(&s.minP, "min-p", 0, "drop tokens less likely than this fraction of the most likely one; 0 is off")
	f.Float64Var(&s.repPenalty, "repetition-penalty", 1, "divide positive (multiply negative) logits of tokens already seen; 1 is off")
	f.Uint64Var(&s.seed, "seed", 0, "random seed: the same seed gives the same text (default: random)")
	f.IntVar(&s.maxNew, "max-new-tokens", maxNewDefault, "the most tokens to generate")
	f.IntVar(&s.threads, "threads", 0, "threads to run on (0: LOFT_THREADS, else all cores)")
	f.Var(&s.adapter, "adapter", "PEFT LoRA adapter folder to apply to the model")
}

// resolve returns the sampling settings: the model's generation defaults,
// overridden by the flags the user set. It also reports the seed drawn
// when --seed is absent, and takes max_new_tokens from the generation
// config when --max-new-tokens is absent, as transformers' generate does.
// When decoding is greedy it warns on stderr about the sampling flags that
// then do nothing, as transformers warns about top_k without do_sample.
func (s *samplingFlags) resolve(f *pflag.FlagSet, g model.GenerationConfig, stderr io.Writer) (generate.Sampling, error) {
	if !f.Changed("max-new-tokens") && g.MaxNewTokens != nil && *g.MaxNewTokens > 0 {
		s.maxNew = *g.MaxNewTokens
	}
	out := generate.Sampling{TopP: 1, RepetitionPenalty: 1} // greedy
	if g.DoSample != nil && *g.DoSample {
		out = generate.Sampling{Temperature: 1, TopK: 50, TopP: 1, RepetitionPenalty: 1}
		if g.Temperature != nil {
			out.Temperature = *g.Temperature
		}
		if g.TopK != nil {
			out.TopK = *g.TopK
		}
		if g.TopP != nil {
			out.TopP = *g.TopP
		}
		if g.MinP != nil {
			out.MinP = *g.MinP
		}
	}
	if g.RepetitionPenalty != nil {
		out.RepetitionPenalty = *g.RepetitionPenalty
	}
	// A value from generation_config.json that no flag overrides is the
	// file's fault, not a flag's: check those alone and name the file.
	cfg := out
	for flag, unset := range map[string]func(){
		"temperature": func() { cfg.Temperature = 0 }, "top-k": func() { cfg.TopK = 0 },
		"top-p": func() { cfg.TopP = 1 }, "min-p": func() { cfg.MinP = 0 },
		"repetition-penalty": func() { cfg.RepetitionPenalty = 1 },
	} {
		if f.Changed(flag) {
			unset()
		}
	}
	if err := cfg.Validate(); err != nil {
		// Validate names a setting by its flag (top-p); the file says top_p.
		name, rest, _ := strings.Cut(err.Error(), " ")
		return out, fmt.Errorf("%s: %s %s", g.Source, strings.ReplaceAll(name, "-", "_"), rest)
	}
	if f.Changed("temperature") {
		out.Temperature = s.temperature
	}
	if f.Changed("top-k") {
		out.TopK = s.topK
	}
	if f.Changed("top-p") {
		out.TopP = s.topP
	}
	if f.Changed("min-p") {
		out.MinP = s.minP
	}
	if f.Changed("repetition-penalty") {
		out.RepetitionPenalty = s.repPenalty
	}
	out.Seed = s.seed
	if !f.Changed("seed") {
		out.Seed = rand.Uint64()
	}
	if err := out.Validate(); err != nil {
		return out, usageErrorf("--%v", err)
	}
	if out.Greedy() {
		if unused := s.samplingOnly(f); len(unused) > 0 {
			var why string
			switch {
			case f.Changed("temperature"):
				why = "--temperature 0 is greedy"
			case g.Source == "":
				why = "the model has no generation_config.json to sample with"
			case g.DoSample != nil && *g.DoSample:
				why = "generation_config.json's temperature is 0"
			case g.DoSample != nil:
				why = "generation_config.json sets do_sample false"
			default:
				why = "generation_config.json does not set do_sample"
			}
			verb := "has"
			if len(unused) > 1 {
				verb = "have"
			}
			fmt.Fprintf(stderr, "loft: warning: %s %s no effect: decoding is greedy (%s); --temperature > 0 samples\n",
				strings.Join(unused, ", "), verb, why)
		}
	}
	return out, nil
}

// samplingOnly returns the flags given that only sampling reads, in the
// order of samplingHelp: set to a value that changes nothing (--top-k 0)
// they are left out. --repetition-penalty is not one: greedy decoding
// applies it too, as transformers does.
func (s *samplingFlags) samplingOnly(f *pflag.FlagSet) []string {
	var names []string
	for _, c := range []struct {
		name string
		on   bool
	}{
		{"top-k", s.topK != 0}, {"top-p", s.topP != 1}, {"min-p", s.minP != 0}, {"seed", true},
	} {
		if f.Changed(c.name) && c.on {
			names = append(names, "--"+c.name)
		}
	}
	return names
}

// check validates the flags that need no model.
func (s *samplingFlags) check(f *pflag.FlagSet) error {
	if len(s.adapter) > 1 {
		return usageErrorf("--adapter given %d times (%s): loft applies one adapter; loft merge folds one into the base model, which can then take another --adapter",
			len(s.adapter), strings.Join(s.adapter, ", "))
	}
	if s.maxNew < 1 {
		return usageErrorf("--max-new-tokens must be at least 1, got %d", s.maxNew)
	}
	if s.threads < 0 {
		return usageErrorf("--threads must be positive (0 for the default), got %d", s.threads)
	}
	if s.topP <= 0 { // 0 means "unset" in generate.Sampling, not "keep nothing"
		return usageErrorf("--top-p must be in (0, 1] (1 is off), got %v", s.topP)
	}
	if s.repPenalty <= 0 { // 0 means "unset" in generate.Sampling, not a penalty
		return usageErrorf("--repetition-penalty must be a finite number > 0 (1 is off), got %v", s.repPenalty)
	}
	probe := generate.Sampling{Temperature: s.temperature, TopK: s.topK, TopP: s.topP, MinP: s.minP, RepetitionPenalty: s.repPenalty}
	if err := probe.Validate(); err != nil {
		return usageErrorf("--%v", err)
	}
	return nil
}

// setThreads applies --threads and returns the function that restores the
// previous count.
func setThreads(n int) func() {
	if n <= 0 {
		return func() {}
	}
	old := kernels.Threads()
	kernels.SetThreads(n)
	return func() { kernels.SetThreads(old) }
}

// loadGenModel resolves ref (a folder, a .gguf file or a Hub id) and loads
// a decoder model with its tokenizer. A folder without config.json that
// holds one .gguf file loads that file, as tokenize does; several are an
// error that names them.
func loadGenModel(ctx context.Context, ref string, stderr io.Writer) (*model.Bundle, error) {
	path, err := hub.Resolve(ctx, ref, hub.Options{Progress: stderr})
	if err != nil {
		return nil, err
	}
	if path, err = ggufInFolder(path); err != nil {
		return nil, err
	}
	b, err := model.Load(path, model.LoadOptions{})
	if err != nil {
		return nil, err
	}
	if b.LM == nil {
		return nil, fmt.Errorf("%s: a %s model is not a text generator (it has no causal LM)", ref, b.Arch)
	}
	if b.Tokenizer == nil {
		return nil, fmt.Errorf("%s: the model has no tokenizer (tokenizer.json, tokenizer.model, vocab.json + merges.txt or GGUF tokenizer metadata)", ref)
	}
	return b, nil
}

// ggufInFolder returns the one .gguf file of folder dir when dir has no
// config.json, and path unchanged otherwise (ggufOf).
func ggufInFolder(path string) (string, error) {
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		return path, nil // model.Load reports it
	}
	if _, err := os.Stat(filepath.Join(path, "config.json")); !errors.Is(err, fs.ErrNotExist) {
		return path, nil
	}
	if g, err := ggufOf(path, "config.json"); err != nil || g != "" {
		return g, err
	}
	return path, nil
}

// ggufOf returns the .gguf file of folder dir, which lacks the files that
// lacks names, when it holds exactly one, and "" when it holds none.
// Several are an error naming them: which one to load (a quantization) is
// the user's call.
func ggufOf(dir, lacks string) (string, error) {
	// ReadDir, not Glob: a folder named models/llama[q4] is no pattern.
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var g []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".gguf") && !e.IsDir() {
			g = append(g, e.Name())
		}
	}
	switch len(g) {
	case 0:
		return "", nil
	case 1:
		return filepath.Join(dir, g[0]), nil
	}
	return "", fmt.Errorf("%s: no %s but %d .gguf files (%s): name one with --model, such as --model %s",
		dir, lacks, len(g), strings.Join(g, ", "), filepath.Join(dir, g[0]))
}

// describeSampling says in words how tokens are picked.
func describeSampling(s generate.Sampling) string {
	if s.Greedy() {
		if s.RepetitionPenalty != 1 {
			return fmt.Sprintf("greedy, repetition penalty %g", s.RepetitionPenalty)
		}
		return "greedy"
	}
	return fmt.Sprintf("temperature %g, top-k %d, top-p %g, min-p %g, repetition penalty %g, seed %d",
		s.Temperature, s.TopK, s.TopP, s.MinP, s.RepetitionPenalty, s.Seed)
}

func newGenerateCmd() *cobra.Command {
	var (
		modelRef, prompt string
		stops            []string
		sf               samplingFlags
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Continue a prompt with a language model",
		Long: `generate continues --prompt with the model and prints only the generated text
on stdout, as it is generated; the prompt is not echoed. BOS is added as the
model's tokenizer config says; an empty prompt starts from BOS. Diagnostics and
speed (prompt tokens, prefill and decode tokens/s) go to stderr.

--model is a model folder (config.json, safetensors, tokenizer), a .gguf file
or a folder holding one, or a Hugging Face Hub id (org/name[@revision]) fetched
into the Hugging Face cache.

Generation stops at an end-of-sequence token, at a --stop string (left out of
the output), after --max-new-tokens, or when the model's context is full.

` + samplingHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if modelRef == "" {
				return usageErrorf("generate: --model is required")
			}
			if err := sf.check(f); err != nil {
				return err
			}
			for _, s := range stops {
				if s == "" {
					return usageErrorf("generate: --stop must not be empty")
				}
			}
			defer setThreads(sf.threads)()
			stderr := cmd.ErrOrStderr()
			b, err := loadGenModel(cmd.Context(), modelRef, stderr)
			if err != nil {
				return err
			}
			if err := applyAdapter(b, sf.adapter.dir(), stderr); err != nil {
				return err
			}
			samp, err := sf.resolve(f, b.Gen, stderr)
			if err != nil {
				return err
			}
			ids := b.Tokenizer.Encode(prompt, false)
			if b.Gen.BOS >= 0 && (b.Gen.AddBOS || len(ids) == 0) {
				ids = append([]int{b.Gen.BOS}, ids...)
			}
			if len(ids) == 0 {
				return usageErrorf("generate: the prompt is empty and the model has no BOS token to start from")
			}
			fmt.Fprintf(stderr, "loft: %s: %d prompt tokens; %s\n", modelRef, len(ids), describeSampling(samp))
			// A --stop that is a special token's text (<|im_end|> on a base
			// model whose EOS is <|endoftext|>) also ends generation as that
			// token: the decoder leaves special tokens' text out, so the
			// string alone could never match. transformers' stop strings
			// match them too. An ordinary token's text is matched as text,
			// and reported as a stop string.
			eos := slices.Clone(b.Gen.EOS)
			for _, s := range stops {
				if id, ok := tokenID(b, s); ok && b.Tokenizer.IsSpecial(id) && !slices.Contains(eos, id) {
					eos = append(eos, id)
				}
				// A special token with more text around it can never
				// match, for the same reason: say so rather than run on.
				if sp := specialIn(b.Tokenizer, s); sp != "" && sp != s {
					fmt.Fprintf(stderr, "loft: warning: --stop %q holds the special token %s, which the output leaves out, so it never matches; --stop %q stops at that token\n", s, sp, sp)
				}
			}
			out := cmd.OutOrStdout()
			var last string // the last text written to stdout
			res, err := generate.Generate(cmd.Context(), b.LM, []generate.Request{{
				Prompt: ids, Sampling: samp, MaxNewTokens: sf.maxNew, Stop: stops,
			}}, generate.Options{
				EOS:        eos,
				NewDecoder: generate.NewContinuationDecoder(b.Tokenizer, true, ids),
				Stream: func(_ int, s string) error {
					if s != "" {
						last = s
					}
					_, err := io.WriteString(out, s)
					return err
				},
			})
			if err != nil {
				return err
			}
			// The stats start on a line of their own, as llama.cpp's do,
			// when they follow the text on one terminal, pipe (2>&1) or
			// file. stdout keeps the text alone, so the newline goes to
			// stderr; a stderr of its own gets no empty line.
			if last != "" && !strings.HasSuffix(last, "\n") && sameStream(out, stderr) {
				fmt.Fprintln(stderr)
			}
			r, st := res.Rows[0], res.Stats
			fmt.Fprintf(stderr, "loft: prompt %d tokens, prefill %.1f tokens/s; generated %d tokens, decode %.1f tokens/s; stopped: %v\n",
				st.PromptTokens, st.PrefillRate(), st.Generated, st.DecodeRate(), r.Reason)
			if r.Reason == generate.StopContext {
				fmt.Fprintf(stderr, "loft: generation stopped: the model's context of %d tokens is full\n", b.LM.ContextLength())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelRef, "model", "", "model folder, .gguf file or Hugging Face Hub id")
	f.StringVar(&prompt, "prompt", "", "text to continue (empty: start from BOS)")
	f.StringArrayVar(&stops, "stop", nil, "stop when this text appears (repeatable); it is not printed")
	sf.register(f, 256)
	return cmd
}

// sameStream tells whether what is written to a and to b ends up on one
// stream: one open file, the same file, pipe or terminal (os.SameFile), or
// two terminals.
func sameStream(a, b io.Writer) bool {
	fa, ok := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok || !ok2 {
		return false
	}
	if fa == fb || isTerminal(fa) && isTerminal(fb) {
		return true
	}
	sa, err := fa.Stat()
	if err != nil {
		return false
	}
	sb, err := fb.Stat()
	if err != nil || sa.Mode().Type() != sb.Mode().Type() {
		return false
	}
	// Only files and, but on Windows, pipes have an identity SameFile can
	// compare: Windows gives every pipe and console handle the same zero
	// one.
	switch sa.Mode().Type() {
	case 0:
	case fs.ModeNamedPipe:
		if runtime.GOOS == "windows" {
			return false
		}
	default:
		return false
	}
	return os.SameFile(sa, sb)
}

// specialIn returns the text of the first special token in s, as the
// tokenizer reads s (special tokens written in text are matched whole), or
// "" when s holds none.
func specialIn(tok tokenizer.Tokenizer, s string) string {
	for _, id := range tok.Encode(s, false) {
		if tok.IsSpecial(id) {
			return tok.Decode([]int{id}, false)
		}
	}
	return ""
}
