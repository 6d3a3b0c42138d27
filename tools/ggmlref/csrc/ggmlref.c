// ggmlref drives a prebuilt ggml/llama.cpp (libggml-base.so, libllama*.so)
// for tools/ggmlref: it quantises and dequantises with ggml's own code and
// runs llama.cpp's forward pass. No headers are needed: the few functions
// used are declared below, and the by-value parameter structs of
// llama.cpp are handled as opaque byte blocks whose size and field
// offsets were read off this build's *_default_params (see README.md);
// patch_u32 checks the default it overwrites before trusting an offset.
//
//   ggmlref blocks   IN.f32 NROWS NCOLS OUT   quantise rows with ggml_quantize_chunk
//                                            to each type, dequantise with ggml
//   ggmlref quantize IN.gguf OUT.gguf FTYPE   llama_model_quantize
//   ggmlref dequant  IN.gguf OUT              every tensor through ggml's dequantize_row_*
//   ggmlref logits   LIBDIR IN.gguf OUT ID... llama_decode, logits of every position
//
// Outputs are little-endian binary streams, read by main.go.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ggml-base
typedef void (*dequant_fn)(const void *x, float *y, int64_t k);
size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start, int64_t nrows,
                           int64_t n_per_row, const float *imatrix);
size_t ggml_row_size(int type, int64_t ne);
void dequantize_row_q4_0(const void *, float *, int64_t);
void dequantize_row_q4_1(const void *, float *, int64_t);
void dequantize_row_q5_0(const void *, float *, int64_t);
void dequantize_row_q5_1(const void *, float *, int64_t);
void dequantize_row_q8_0(const void *, float *, int64_t);
void dequantize_row_q4_K(const void *, float *, int64_t);
void dequantize_row_q5_K(const void *, float *, int64_t);
void dequantize_row_q6_K(const void *, float *, int64_t);
void ggml_fp16_to_fp32_row(const uint16_t *, float *, int64_t);
const char *ggml_commit(void);

struct ggml_context;
struct ggml_tensor;
struct gguf_context;
struct gguf_init_params {
	bool no_alloc;
	struct ggml_context **ctx;
};
struct gguf_context *gguf_init_from_file(const char *fname, struct gguf_init_params params);
int64_t gguf_get_n_tensors(const struct gguf_context *);
const char *gguf_get_tensor_name(const struct gguf_context *, int64_t);
int gguf_get_tensor_type(const struct gguf_context *, int64_t);
size_t gguf_get_tensor_offset(const struct gguf_context *, int64_t);
size_t gguf_get_tensor_size(const struct gguf_context *, int64_t);
size_t gguf_get_data_offset(const struct gguf_context *);
void gguf_free(struct gguf_context *);
struct ggml_tensor *ggml_get_tensor(struct ggml_context *, const char *);
int64_t ggml_nelements(const struct ggml_tensor *);
void ggml_free(struct ggml_context *);

// ggml backends, llama
typedef void (*log_fn)(int level, const char *text, void *user);
void ggml_backend_load_all_from_path(const char *dir);
void llama_log_set(log_fn, void *);
void llama_backend_init(void);
uint32_t llama_model_quantize(const char *in, const char *out, const void *params);

// llama.cpp's parameter structs change between builds, so they are opaque
// blocks of this build's sizes, read off the stores in the disassembly of
// llama_model_quantize_default_params (64 bytes), llama_model_default_params
// (80) and llama_context_params (160): `objdump -d libllama*.so`. The x86-64
// SysV ABI passes and returns structs over 16 bytes in memory, so size and
// alignment are all that must match. The fields patched are found by their
// default values (patch_u32 checks them), not by the header alone.
struct quantize_params {
	_Alignas(8) unsigned char b[64];
};
struct model_params {
	_Alignas(8) unsigned char b[80];
};
struct context_params {
	_Alignas(8) unsigned char b[160];
};
struct llama_model;
struct llama_context;
struct llama_vocab;
typedef struct llama_batch {
	int32_t n_tokens;
	int32_t *token;
	float *embd;
	int32_t *pos;
	int32_t *n_seq_id;
	int32_t **seq_id;
	int8_t *logits;
} llama_batch;
struct quantize_params llama_model_quantize_default_params(void);
struct model_params llama_model_default_params(void);
struct context_params llama_context_default_params(void);
struct llama_model *llama_model_load_from_file(const char *path, struct model_params);
struct llama_context *llama_init_from_model(struct llama_model *, struct context_params);
const struct llama_vocab *llama_model_get_vocab(const struct llama_model *);
int32_t llama_vocab_n_tokens(const struct llama_vocab *);
llama_batch llama_batch_init(int32_t n_tokens, int32_t embd, int32_t n_seq_max);
void llama_batch_free(llama_batch);
int32_t llama_decode(struct llama_context *, llama_batch);
float *llama_get_logits_ith(struct llama_context *, int32_t i);
void llama_free(struct llama_context *);
void llama_model_free(struct llama_model *);

static void die(const char *msg) {
	fprintf(stderr, "ggmlref: %s\n", msg);
	exit(1);
}

static void quiet_log(int level, const char *text, void *user) {
	(void)user;
	if (level >= 3 && level != 5) // GGML_LOG_LEVEL_WARN, _ERROR; not _CONT
		fputs(text, stderr);
}

static dequant_fn dequantizer(int type) {
	switch (type) {
	case 2: return (dequant_fn)dequantize_row_q4_0;
	case 3: return (dequant_fn)dequantize_row_q4_1;
	case 6: return (dequant_fn)dequantize_row_q5_0;
	case 7: return (dequant_fn)dequantize_row_q5_1;
	case 8: return (dequant_fn)dequantize_row_q8_0;
	case 12: return (dequant_fn)dequantize_row_q4_K;
	case 13: return (dequant_fn)dequantize_row_q5_K;
	case 14: return (dequant_fn)dequantize_row_q6_K;
	}
	return NULL;
}

static void *read_all(const char *path, size_t *n) {
	FILE *f = fopen(path, "rb");
	if (!f) die(path);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	void *b = malloc(*n ? *n : 1);
	if (fread(b, 1, *n, f) != *n) die(path);
	fclose(f);
	return b;
}

static void put_u32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put_u64(FILE *f, uint64_t v) { fwrite(&v, 8, 1, f); }

// blocks: for each type, u32 type, u64 nbytes, the ggml blocks, then the
// NROWS*NCOLS floats dequantize_row_* makes of them.
static int cmd_blocks(char **a) {
	size_t n;
	float *x = read_all(a[0], &n);
	int64_t rows = atoll(a[1]), cols = atoll(a[2]);
	if ((int64_t)n != rows * cols * 4) die("blocks: input size");
	FILE *out = fopen(a[3], "wb");
	if (!out) die(a[3]);
	static const int types[] = {8, 2, 3, 6, 7, 12, 13, 14}; // Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K
	float *y = malloc(n);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		int t = types[i];
		size_t size = ggml_row_size(t, cols) * rows;
		unsigned char *q = calloc(size, 1);
		if (ggml_quantize_chunk(t, x, q, 0, rows, cols, NULL) != size) die("blocks: quantize size");
		dequantizer(t)(q, y, rows * cols);
		put_u32(out, t);
		put_u64(out, size);
		fwrite(q, 1, size, out);
		fwrite(y, 4, rows * cols, out);
		free(q);
	}
	return fclose(out) != 0;
}

// patch_u32 sets the uint32 at off in a parameter block to v after
// checking it holds this build's default want_old.
static void patch_u32(unsigned char *b, size_t off, uint32_t want_old, uint32_t v) {
	uint32_t old;
	memcpy(&old, b + off, 4);
	if (old != want_old) {
		fprintf(stderr, "ggmlref: llama.cpp params: offset %zu holds %u, expected %u (another llama.cpp build?)\n", off, old, want_old);
		exit(1);
	}
	memcpy(b + off, &v, 4);
}

static int cmd_quantize(char **a) {
	struct quantize_params qp = llama_model_quantize_default_params();
	// nthread 0 at offset 0 -> 1; ftype LLAMA_FTYPE_MOSTLY_Q8_0 (7) at 4;
	// output and token-embedding types GGML_TYPE_COUNT (43) at 8 and 12,
	// so llama.cpp picks them by its rules; the rest as given.
	patch_u32(qp.b, 0x00, 0, 1);
	patch_u32(qp.b, 0x04, 7, (uint32_t)atoi(a[2]));
	patch_u32(qp.b, 0x08, 43, 43);
	patch_u32(qp.b, 0x0c, 43, 43);
	return llama_model_quantize(a[0], a[1], &qp) != 0;
}

// dequant: for each tensor in file order, u32 name length, name, u32 type,
// u64 elements, the floats.
static int cmd_dequant(char **a) {
	struct ggml_context *ctx = NULL;
	struct gguf_init_params ip = {true, &ctx};
	struct gguf_context *g = gguf_init_from_file(a[0], ip);
	if (!g) die("dequant: gguf_init_from_file");
	size_t fsize;
	unsigned char *file = read_all(a[0], &fsize);
	FILE *out = fopen(a[1], "wb");
	if (!out) die(a[1]);
	size_t base = gguf_get_data_offset(g);
	for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
		const char *name = gguf_get_tensor_name(g, i);
		int t = gguf_get_tensor_type(g, i);
		int64_t ne = ggml_nelements(ggml_get_tensor(ctx, name));
		const unsigned char *src = file + base + gguf_get_tensor_offset(g, i);
		if (base + gguf_get_tensor_offset(g, i) + gguf_get_tensor_size(g, i) > fsize) die("dequant: tensor past end");
		float *y = malloc(ne * 4);
		if (t == 0)
			memcpy(y, src, ne * 4);
		else if (t == 1)
			ggml_fp16_to_fp32_row((const uint16_t *)src, y, ne);
		else if (dequantizer(t))
			dequantizer(t)(src, y, ne);
		else
			die("dequant: unexpected tensor type");
		put_u32(out, strlen(name));
		fwrite(name, 1, strlen(name), out);
		put_u32(out, t);
		put_u64(out, ne);
		fwrite(y, 4, ne, out);
		free(y);
	}
	gguf_free(g);
	ggml_free(ctx);
	return fclose(out) != 0;
}

// logits: the V logits of every position of one sequence, as floats.
static int cmd_logits(char **a, int nids) {
	ggml_backend_load_all_from_path(a[0]);
	llama_backend_init();
	struct llama_model *m = llama_model_load_from_file(a[1], llama_model_default_params());
	if (!m) die("logits: load");
	struct context_params cp = llama_context_default_params();
	patch_u32(cp.b, 0x00, 512, 64);  // n_ctx
	patch_u32(cp.b, 0x04, 2048, 64); // n_batch
	patch_u32(cp.b, 0x08, 512, 64);  // n_ubatch
	patch_u32(cp.b, 0x1c, 4, 1);     // n_threads
	patch_u32(cp.b, 0x20, 4, 1);     // n_threads_batch
	patch_u32(cp.b, 0x34, -1, 0);    // flash_attn_type AUTO -> DISABLED
	patch_u32(cp.b, 0x68, 1, 0);     // type_k F16 -> F32
	patch_u32(cp.b, 0x6c, 1, 0);     // type_v F16 -> F32
	struct llama_context *c = llama_init_from_model(m, cp);
	if (!c) die("logits: context");
	int32_t V = llama_vocab_n_tokens(llama_model_get_vocab(m));
	llama_batch b = llama_batch_init(nids, 0, 1);
	for (int i = 0; i < nids; i++) {
		b.token[i] = atoi(a[3 + i]);
		b.pos[i] = i;
		b.n_seq_id[i] = 1;
		b.seq_id[i][0] = 0;
		b.logits[i] = 1;
	}
	b.n_tokens = nids;
	if (llama_decode(c, b) != 0) die("logits: decode");
	FILE *out = fopen(a[2], "wb");
	if (!out) die(a[2]);
	for (int i = 0; i < nids; i++)
		fwrite(llama_get_logits_ith(c, i), 4, V, out);
	llama_batch_free(b);
	llama_free(c);
	llama_model_free(m);
	return fclose(out) != 0;
}

int main(int argc, char **argv) {
	llama_log_set(quiet_log, NULL);
	if (argc == 6 && !strcmp(argv[1], "blocks")) return cmd_blocks(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "quantize")) return cmd_quantize(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "dequant")) return cmd_dequant(argv + 2);
	if (argc >= 6 && !strcmp(argv[1], "logits")) return cmd_logits(argv + 2, argc - 5);
	if (argc == 2 && !strcmp(argv[1], "commit")) return puts(ggml_commit()) < 0;
	fprintf(stderr, "usage: ggmlref blocks|quantize|dequant|logits|commit ... (see the source)\n");
	return 2;
}
