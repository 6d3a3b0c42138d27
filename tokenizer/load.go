package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/loftml/loft/internal/jsonerr"
	"github.com/loftml/loft/tokenizer/bpe"
	"github.com/loftml/loft/tokenizer/internal/special"
	"github.com/loftml/loft/tokenizer/pretok"
)

// Load reads the tokenizer at path: a tokenizer.json, a tokenizer.model,
// GPT-2's vocab.json or merges.txt (the pair beside each other), or a folder
// holding one of tokenizer.json (preferred), vocab.json + merges.txt, or
// tokenizer.model, plus an optional tokenizer_config.json and
// special_tokens_map.json (special-token names, see readConfig;
// add_bos_token/add_eos_token where the tokenizer file itself has no
// post-processor, or where transformers rebuilds it from them: see
// rebuildPostProcessor). A .gguf file is read by the caller with a GGUF
// reader and FromGGUF.
func Load(path string) (*Pipeline, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return loadDir(path, false)
	}
	switch base := filepath.Base(path); {
	case base == "vocab.json" || base == "merges.txt":
		// One file of GPT-2's pair: load the pair and the folder's
		// configuration, even where a tokenizer.json would win.
		return loadDir(filepath.Dir(path), true)
	case strings.HasSuffix(path, ".json"):
		return LoadJSON(path)
	case strings.HasSuffix(path, ".model"):
		return LoadSentencePiece(path, nil)
	case strings.HasSuffix(path, ".gguf"):
		return nil, fmt.Errorf("%s: a GGUF file: read its tokenizer.ggml.* metadata and call FromGGUF", path)
	}
	return nil, fmt.Errorf("%s: not a tokenizer file (want tokenizer.json, tokenizer.model, vocab.json + merges.txt, or a folder)", path)
}

// loadDir loads the tokenizer of folder path; gpt2 picks vocab.json +
// merges.txt over the other files.
func loadDir(path string, gpt2 bool) (*Pipeline, error) {
	cfg, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(path, name))
		return err == nil
	}
	hasJSON := exists("tokenizer.json") && !gpt2
	var p *Pipeline
	var vocabMerges bool
	var defaults specialNames // the tokenizer class's special tokens (vocab.json + merges.txt)
	switch {
	case hasJSON:
		p, err = LoadJSON(filepath.Join(path, "tokenizer.json"))
	case exists("vocab.json") && exists("merges.txt"):
		vocabMerges = true
		p, defaults, err = loadGPT2(filepath.Join(path, "vocab.json"), filepath.Join(path, "merges.txt"), cfg)
	case exists("vocab.json") != exists("merges.txt") && (gpt2 || !exists("tokenizer.model")):
		have, lack := "vocab.json", "merges.txt"
		if exists(lack) {
			have, lack = lack, have
		}
		return nil, fmt.Errorf("%s: %s without the %s that goes with it", path, have, lack)
	case exists("tokenizer.model"):
		p, err = LoadSentencePiece(filepath.Join(path, "tokenizer.model"), cfg)
	default:
		return nil, fmt.Errorf("%s: no tokenizer.json, vocab.json + merges.txt, or tokenizer.model", path)
	}
	if err != nil {
		return nil, err
	}
	if !hasJSON {
		// Older folders list tokens added after training (say a [PAD]) in
		// added_tokens.json and tokenizer_config.json.
		more, err := readAddedTokens(filepath.Join(path, "added_tokens.json"))
		if err != nil {
			return nil, err
		}
		if cfg != nil {
			more = append(more, cfg.Added...)
		}
		if err := p.extendAdded(more); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	// The specials come after the added tokens: a Qwen-style folder whose
	// config has no added_tokens_decoder keeps the class's default
	// <|endoftext|> in added_tokens.json, not in vocab.json, and
	// transformers' GPT2Tokenizer and Qwen2Tokenizer still take it.
	if err := cfg.applySpecials(p, defaults); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case hasJSON && cfg != nil:
		cfg.rebuildPostProcessor(p)
	case vocabMerges:
		cfg.addBOSEOS(p)
	}
	return p, nil
}

// flagsPostProcessor lists the tokenizer classes whose fast tokenizer, in
// transformers, replaces tokenizer.json's post-processor at load time with
// one built from add_bos_token and add_eos_token (update_post_processor),
// with those defaults; "Fast" may follow each name.
var flagsPostProcessor = map[string]struct{ bos, eos bool }{
	"LlamaTokenizer":     {true, false},
	"CodeLlamaTokenizer": {true, false},
	"GemmaTokenizer":     {true, false},
}

// rebuildPostProcessor does what transformers' update_post_processor does
// for the classes of flagsPostProcessor: BOS first when add_bos_token, EOS
// last when add_eos_token, whatever tokenizer.json says. So a Llama 2
// folder whose config sets add_eos_token (a common way to teach a model to
// stop) adds EOS in loft too.
func (c *config) rebuildPostProcessor(p *Pipeline) {
	def, ok := flagsPostProcessor[strings.TrimSuffix(c.Class, "Fast")]
	if !ok {
		return
	}
	p.prefix, p.suffix = nil, nil
	if flag(c.AddBOS, def.bos) && p.specials.BOS >= 0 {
		p.prefix = []int{p.specials.BOS}
	}
	if flag(c.AddEOS, def.eos) && p.specials.EOS >= 0 {
		p.suffix = []int{p.specials.EOS}
	}
}

// readAddedTokens reads an added_tokens.json ({"token": id, ...}), or
// returns nil when it is absent. The tokens are not special unless
// tokenizer_config.json says so.
func readAddedTokens(path string) ([]AddedToken, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]int
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, jsonerr.Describe(data, err))
	}
	var out []AddedToken
	for tok, id := range m {
		if id < 0 || tok == "" {
			return nil, fmt.Errorf("%s: bad token %q with id %d", path, tok, id)
		}
		out = append(out, AddedToken{ID: id, Content: tok})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// extendAdded adds tokens to the added tokens; one already there with the
// same id and content only takes the other's special flag when it is set.
func (p *Pipeline) extendAdded(more []AddedToken) error {
	if len(more) == 0 {
		return nil
	}
	list := append([]AddedToken(nil), p.addedList...)
	index := map[int]int{} // id -> position in list
	for k, t := range list {
		index[t.ID] = k
	}
	limit := 2*len(p.tokens) + 1<<16
	for _, t := range more {
		if t.ID >= limit {
			return fmt.Errorf("added token %q has id %d, far beyond the %d tokens", t.Content, t.ID, len(p.tokens))
		}
		if k, ok := index[t.ID]; ok {
			if list[k].Content != t.Content {
				return fmt.Errorf("added token id %d is both %q and %q", t.ID, list[k].Content, t.Content)
			}
			list[k].Special = list[k].Special || t.Special
			continue
		}
		if t.ID < len(p.tokens) && p.tokens[t.ID] != "" && p.tokens[t.ID] != t.Content {
			return fmt.Errorf("added token %q has id %d, which is %q in the vocabulary", t.Content, t.ID, p.tokens[t.ID])
		}
		index[t.ID] = len(list)
		list = append(list, t)
	}
	b := &builder{p: p}
	b.added(list)
	return nil
}

// config is the part of tokenizer_config.json and special_tokens_map.json
// that loft reads.
type config struct {
	path  string
	Class string // tokenizer_class
	// BOS, EOS, UNK and PAD are bos_token ... pad_token: nil where the
	// files do not set the key (the tokenizer class's default applies),
	// "" where they set null (no such token, whatever the default).
	BOS, EOS, UNK, PAD *string
	Additional         []string // additional_special_tokens
	AddBOS, AddEOS     *bool
	Added              []AddedToken
}

// specialNames are the texts of the named special tokens, "" for none, and
// the additional special tokens.
type specialNames struct {
	BOS, EOS, UNK, PAD string
	Additional         []string
}

// names returns the special tokens the config names, def's where it does
// not set a key, as transformers passes the config's keys over the
// class's __init__ defaults. c may be nil.
func (c *config) names(def specialNames) specialNames {
	if c == nil {
		return def
	}
	pick := func(set *string, d string) string {
		if set != nil {
			return *set
		}
		return d
	}
	return specialNames{pick(c.BOS, def.BOS), pick(c.EOS, def.EOS), pick(c.UNK, def.UNK), pick(c.PAD, def.PAD), c.Additional}
}

// tokenKeys are the special-token keys of tokenizer_config.json that
// special_tokens_map.json holds too.
type tokenKeys struct {
	BOS        json.RawMessage   `json:"bos_token"`
	EOS        json.RawMessage   `json:"eos_token"`
	UNK        json.RawMessage   `json:"unk_token"`
	PAD        json.RawMessage   `json:"pad_token"`
	Additional []json.RawMessage `json:"additional_special_tokens"`
}

// readConfig reads the tokenizer_config.json and special_tokens_map.json of
// folder dir, or returns nil when both are absent. The map counts where
// transformers' from_pretrained reads it (special.Read): then each key it
// sets wins over the config's, and its additional_special_tokens join the
// config's.
func readConfig(dir string) (*config, error) {
	cf, mf, err := special.Read(dir)
	if err != nil {
		return nil, err
	}
	var c *config
	if cf.Data != nil {
		var raw struct {
			tokenKeys
			Class        string `json:"tokenizer_class"`
			AddBOS       *bool  `json:"add_bos_token"`
			AddEOS       *bool  `json:"add_eos_token"`
			AddedDecoder map[string]struct {
				Content    string `json:"content"`
				LStrip     bool   `json:"lstrip"`
				RStrip     bool   `json:"rstrip"`
				SingleWord bool   `json:"single_word"`
				Special    bool   `json:"special"`
			} `json:"added_tokens_decoder"`
		}
		if err := json.Unmarshal(cf.Data, &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", cf.Path, jsonerr.Describe(cf.Data, err))
		}
		c = &config{path: cf.Path, Class: raw.Class, AddBOS: raw.AddBOS, AddEOS: raw.AddEOS}
		if err := c.setTokens(raw.tokenKeys, cf.Path); err != nil {
			return nil, err
		}
		for k, t := range raw.AddedDecoder {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 {
				return nil, fmt.Errorf("%s: added_tokens_decoder key %q is not an id", cf.Path, k)
			}
			c.Added = append(c.Added, AddedToken{ID: id, Content: t.Content, Special: t.Special, LStrip: t.LStrip, RStrip: t.RStrip, SingleWord: t.SingleWord})
		}
	}
	if mf.Data == nil {
		return c, nil
	}
	var m tokenKeys
	if err := json.Unmarshal(mf.Data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", mf.Path, jsonerr.Describe(mf.Data, err))
	}
	if c == nil {
		c = &config{path: mf.Path}
	}
	return c, c.setTokens(m, mf.Path)
}

// setTokens sets the special tokens that keys sets, read from file.
func (c *config) setTokens(keys tokenKeys, file string) error {
	for _, f := range []struct {
		dst **string
		raw json.RawMessage
		key string
	}{{&c.BOS, keys.BOS, "bos_token"}, {&c.EOS, keys.EOS, "eos_token"}, {&c.UNK, keys.UNK, "unk_token"}, {&c.PAD, keys.PAD, "pad_token"}} {
		if len(f.raw) == 0 {
			continue
		}
		name, _, err := special.Token(f.raw) // null: "" (no such token)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", file, f.key, err)
		}
		*f.dst = &name
	}
	for k, raw := range keys.Additional {
		name, _, err := special.Token(raw)
		if err != nil {
			return fmt.Errorf("%s: additional_special_tokens[%d]: %w", file, k, err)
		}
		if name != "" && !slices.Contains(c.Additional, name) {
			c.Additional = append(c.Additional, name)
		}
	}
	return nil
}

// applySpecials points the tokenizer's specials at the tokens the config
// names, def's where it does not set a key, and makes them special added
// tokens; the others keep the tokenizer's own. c may be nil.
func (c *config) applySpecials(p *Pipeline, def specialNames) error {
	return p.setSpecials(c.names(def))
}

// setSpecials points p.specials at the named tokens that exist and makes
// them and the additional special tokens special added tokens, matched
// whole in the text and skipped by Decode with skipSpecial, as transformers
// adds every special token (PreTrainedTokenizer._add_tokens with
// special_tokens=True). An empty name, or one missing from the vocabulary,
// leaves its id as it is.
func (p *Pipeline) setSpecials(n specialNames) error {
	var more []AddedToken
	for _, f := range []struct {
		dst  *int
		name string
	}{{&p.specials.BOS, n.BOS}, {&p.specials.EOS, n.EOS}, {&p.specials.UNK, n.UNK}, {&p.specials.PAD, n.PAD}} {
		if id, ok := p.ID(f.name); ok && f.name != "" {
			*f.dst = id
			more = append(more, AddedToken{ID: id, Content: f.name, Special: true})
		}
	}
	for _, name := range n.Additional {
		if id, ok := p.ID(name); ok {
			more = append(more, AddedToken{ID: id, Content: name, Special: true})
		}
	}
	return p.extendAdded(more)
}

// bpeClass is what a transformers tokenizer class reading vocab.json +
// merges.txt does besides byte-level BPE: its pre-tokenizer regex, its
// normalization and the special tokens its __init__ defaults to.
type bpeClass struct {
	split    pretok.Kind
	nfc      bool // NFC before splitting (Qwen2Tokenizer.prepare_for_tokenization)
	defaults specialNames
}

// bpeClasses holds the classes by tokenizer_class, "Fast" dropped; any
// other class, or none, is read as GPT2Tokenizer.
var bpeClasses = map[string]bpeClass{
	"GPT2Tokenizer":  {split: pretok.GPT2, defaults: specialNames{BOS: endOfText, EOS: endOfText, UNK: endOfText}},
	"Qwen2Tokenizer": {split: pretok.Qwen2, nfc: true, defaults: specialNames{EOS: endOfText, UNK: endOfText, PAD: endOfText}},
}

const endOfText = "<|endoftext|>"

// LoadGPT2 reads GPT-2's vocab.json and merges.txt (older Hugging Face
// folders): byte-level BPE with the pre-tokenizer, normalization and
// default special tokens of the folder's tokenizer_class (bpeClasses:
// GPT-2's regex and "<|endoftext|>" as BOS, EOS and UNK; Qwen2's regex, NFC,
// "<|endoftext|>" as EOS, UNK and PAD). cfg, from the folder's
// tokenizer_config.json, may be nil; the special tokens it names replace
// the class's defaults key by key.
func LoadGPT2(vocabPath, mergesPath string, cfg *config) (*Pipeline, error) {
	p, defaults, err := loadGPT2(vocabPath, mergesPath, cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.applySpecials(p, defaults); err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	cfg.addBOSEOS(p)
	return p, nil
}

// addBOSEOS puts BOS first and EOS last where add_bos_token and
// add_eos_token say so, for vocab.json + merges.txt, which has no
// post-processor; GPT2Tokenizer adds neither by default. c may be nil.
func (c *config) addBOSEOS(p *Pipeline) {
	if c == nil {
		return
	}
	if c.AddBOS != nil && *c.AddBOS && p.specials.BOS >= 0 {
		p.prefix = []int{p.specials.BOS}
	}
	if c.AddEOS != nil && *c.AddEOS && p.specials.EOS >= 0 {
		p.suffix = []int{p.specials.EOS}
	}
}

// loadGPT2 is LoadGPT2 but for the special tokens: it returns the class's
// defaults for the caller to apply once the folder's added tokens are in.
func loadGPT2(vocabPath, mergesPath string, cfg *config) (*Pipeline, specialNames, error) {
	var none specialNames
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, none, err
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		return nil, none, fmt.Errorf("%s: %w", vocabPath, jsonerr.Describe(data, err))
	}
	for tok, id := range vocab {
		if id < 0 {
			return nil, none, fmt.Errorf("%s: %q has negative id %d", vocabPath, tok, id)
		}
	}
	merges, lines, err := readMerges(mergesPath)
	if err != nil {
		return nil, none, err
	}
	m, err := bpe.New(vocab, merges, bpe.Options{ByteLevel: true, Unk: -1})
	var me *bpe.MergeError
	if errors.As(err, &me) {
		return nil, none, fmt.Errorf("%s:%d: merge %q %q: %q is not in %s", mergesPath, lines[me.Index], me.Left, me.Right, me.Missing, filepath.Base(vocabPath))
	}
	if err != nil {
		return nil, none, fmt.Errorf("%s: %w", mergesPath, err)
	}
	class := bpeClasses["GPT2Tokenizer"]
	var added []AddedToken
	if cfg != nil {
		added = cfg.Added
		if c, ok := bpeClasses[strings.TrimSuffix(cfg.Class, "Fast")]; ok {
			class = c
		}
	}
	if err := checkIDs(vocab, added); err != nil {
		return nil, none, fmt.Errorf("%s: %w", vocabPath, err)
	}
	b := &builder{}
	b.vocab(vocab)
	if class.nfc {
		b.p.normalize = norm.NFC.String
	}
	b.added(added)
	b.p.model = m
	b.p.pre = fromSplitter(pretok.Hand{Kind: class.split})
	b.p.steps = []decodeStep{decodeByteLevel}
	return b.p, class.defaults, nil
}

// readMerges reads a merges.txt: an optional "#version" line, then one
// "left right" pair per line. lines[k] is the line of merges[k], from 1.
func readMerges(path string) (merges [][2]string, lines []int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if s == "" || (line == 1 && strings.HasPrefix(s, "#version")) {
			continue
		}
		a, c, ok := strings.Cut(s, " ")
		if !ok || a == "" || c == "" || strings.Contains(c, " ") {
			return nil, nil, fmt.Errorf("%s:%d: want two tokens separated by one space, got %q", path, line, s)
		}
		merges = append(merges, [2]string{a, c})
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return merges, lines, nil
}
