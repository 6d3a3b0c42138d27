// Package train runs LoRA training: Trainer.Step is one optimizer step
// (zero grads, forward and backward of each micro-batch with token-weighted
// loss, clipping by global norm, AdamW at the schedule's learning rate),
// Trainer.Eval the validation loss, and Trainer.Run the loop around them
// with metrics (JSON lines), a progress bar, checkpoints that a resumed run
// continues exactly, interruption and NaN handling, and the loss curve.
//
// The trainer knows models only through model.Trainable, parameters only
// as []optim.Param, and data only as Data: micro-batches addressed by
// (epoch, index), so the data order is a pure function of the seed and the
// position, and the position is all of the data's state a checkpoint keeps.
package train
