package optim

// Param is one trainable tensor: its values and the gradient accumulated
// for them, both of the same length. Name is the tensor's name as saved
// (for LoRA, the PEFT key such as
// "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").
type Param struct {
	Name string
	W    []float32 // values
	G    []float32 // gradient, len(G) == len(W)
}
