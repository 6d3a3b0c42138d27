// Package lora adds low-rank adapters (Hu et al. 2021, "LoRA") to a
// model's linear layers with Hugging Face PEFT's semantics, so adapters
// move between loft, PEFT, vLLM and llama.cpp's converter:
//
//	y = base(x) + s·B·A·dropout(x),  s = alpha/r (alpha/√r with rsLoRA)
//
// with the base layer frozen, A (r, in) and B (out, r). It owns Config and
// target matching (Apply, as PEFT's target_modules / layers_to_transform /
// exclude_modules), the Linear wrapper with its forward and backward,
// merging (W += s·B·A), and PEFT's adapter files (adapter_config.json and
// adapter_model.safetensors: Save, Load, MergeFolder).
package lora
