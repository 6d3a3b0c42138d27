package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/loftml/loft/hub"
	"github.com/loftml/loft/lora"
	"github.com/loftml/loft/model"
)

func newMergeCmd() *cobra.Command {
	var modelRef, adapterDir, outDir string
	cmd := &cobra.Command{
		Use:   "merge",
		Short: "Fold a LoRA adapter into its base model's weights",
		Long: `merge writes --out, a full Hugging Face model folder in which every weight the
adapter touches is W + s·B·A (s = lora_alpha/r, or lora_alpha/√r with
use_rslora), stored in the base model's dtype under the base's tensor names
(GPT-2's Conv1D weights transposed back to (in, out)), with safetensors
metadata {"format": "pt"}; config.json, tokenizer, generation config and chat
template files are copied. Weights in another form (pytorch_model.bin, GGUF,
TensorFlow or Flax files, Mistral's consolidated.safetensors) are left out and
named, as they would hold the unmerged base. The result loads in loft,
transformers, vLLM or llama.cpp's converter without the adapter.

--model is a Hugging Face model folder or Hub id (not a .gguf file); --adapter
is any PEFT LoRA adapter folder (adapter_config.json and
adapter_model.safetensors) for that model. --out must not exist or be empty; it
is written under a temporary name and renamed when complete.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range []struct{ flag, v string }{{"model", modelRef}, {"adapter", adapterDir}, {"out", outDir}} {
				if f.v == "" {
					return usageErrorf("merge: --%s is required", f.flag)
				}
			}
			stderr := cmd.ErrOrStderr()
			path, err := hub.Resolve(cmd.Context(), modelRef, hub.Options{Progress: stderr})
			if err != nil {
				return err
			}
			if st, err := os.Stat(path); err == nil && !st.IsDir() {
				return fmt.Errorf("merge: %s is not a model folder: merging writes a Hugging Face folder and needs one as the base (not a .gguf file)", modelRef)
			}
			b, err := model.Load(path, model.LoadOptions{})
			if err != nil {
				return err
			}
			ad, err := lora.Load(adapterDir, b.Slots)
			if err != nil {
				return err
			}
			left, err := lora.MergeFolder(path, outDir, ad)
			if err != nil {
				return err
			}
			for _, n := range left {
				fmt.Fprintf(stderr, "loft: left out %s: weights outside the safetensors checkpoint, which the merge does not rewrite (they would hold the unmerged base)\n", n)
			}
			fmt.Fprintf(stderr, "loft: wrote %s: %s with the %d modules of adapter %s merged in (the base is unchanged)\n", outDir, modelRef, len(ad.Modules), adapterDir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelRef, "model", "", "base model folder or Hugging Face Hub id")
	f.StringVar(&adapterDir, "adapter", "", "PEFT LoRA adapter folder")
	f.StringVar(&outDir, "out", "", "folder to write the merged model into")
	return cmd
}

// applyAdapter loads the PEFT LoRA adapter in dir onto b's model (for
// --adapter); an empty dir does nothing.
func applyAdapter(b *model.Bundle, dir string, stderr io.Writer) error {
	if dir == "" {
		return nil
	}
	ad, err := lora.Load(dir, b.Slots)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "loft: adapter %s: %d modules, %d parameters\n", dir, len(ad.Modules), ad.NumParams())
	return nil
}
