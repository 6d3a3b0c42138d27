package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/loftml/loft/hub"
	"github.com/loftml/loft/model"
)

func newInfoCmd() *cobra.Command {
	var (
		path   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Describe a model: architecture, sizes, parameters and linear modules",
		Long: `info loads --model (a Hugging Face folder, a .gguf file or a Hub id) and prints its
architecture, layer count, hidden size, heads and KV heads, vocabulary, context
length, parameter count and storage dtype, then the names of its linear modules
as Hugging Face and PEFT name them (the names --target matches in loft train,
but the output head, which is marked).
With --json it prints the same as one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usageErrorf("info: --model is required")
			}
			local, err := hub.Resolve(cmd.Context(), path, hub.Options{Progress: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			b, err := model.Load(local, model.LoadOptions{})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			in := b.Info
			if asJSON {
				data, err := json.Marshal(struct {
					Path string `json:"path"`
					model.Info
				}{path, in})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", data)
				return err
			}
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			row := func(k string, v any) { fmt.Fprintf(w, "%s\t%v\n", k, v) }
			row("path", path)
			row("architecture", in.Arch)
			row("format", in.Format)
			row("dtype", in.DType)
			row("layers", in.Layers)
			row("hidden size", in.Hidden)
			row("intermediate size", in.Intermediate)
			row("heads", in.Heads)
			row("kv heads", in.KVHeads)
			row("head dim", in.HeadDim)
			row("vocab size", in.Vocab)
			row("context length", in.ContextLength)
			row("tied embeddings", in.Tied)
			row("parameters", fmt.Sprintf("%d (%s)", in.Params, humanCount(in.Params)))
			if err := w.Flush(); err != nil {
				return err
			}
			// The output head is a linear module, but not a LoRA target
			// (loft train refuses it, as PEFT's all-linear leaves it out).
			heads := map[string]bool{}
			for _, s := range b.Slots {
				heads[s.Name] = s.Head
			}
			var sb strings.Builder
			fmt.Fprintf(&sb, "linear modules (%d):\n", len(in.LinearModules))
			for _, n := range in.LinearModules {
				if heads[n] {
					fmt.Fprintf(&sb, "  %s  (the output head: not a --target)\n", n)
					continue
				}
				fmt.Fprintf(&sb, "  %s\n", n)
			}
			_, err = fmt.Fprint(out, sb.String())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "model", "", "model folder (config.json + safetensors), .gguf file or Hugging Face Hub id")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// humanCount writes n as 1.2K, 3.4M or 5.6B.
func humanCount(n int) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
