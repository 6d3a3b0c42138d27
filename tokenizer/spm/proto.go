// Package spm is SentencePiece: a reader for its tokenizer.model protobuf
// and its BPE encoder (pieces with scores; the adjacent pair whose
// concatenation is the highest-scoring piece merges first), as Llama 2 and
// llama.cpp's "llama" (SPM) vocabulary use it.
package spm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Piece types (sentencepiece_model.proto, ModelProto.SentencePiece.Type;
// GGUF's tokenizer.ggml.token_type uses the same numbers).
const (
	Normal      = 1
	Unknown     = 2
	Control     = 3
	UserDefined = 4
	Unused      = 5
	Byte        = 6
)

// Model types (TrainerSpec.ModelType).
const (
	TypeUnigram = 1
	TypeBPE     = 2
	TypeWord    = 3
	TypeChar    = 4
)

// Proto is what loft reads from a tokenizer.model (ModelProto).
type Proto struct {
	Pieces []string
	Scores []float32
	Types  []int32

	ModelType    int  // TrainerSpec.model_type (default Unigram)
	ByteFallback bool // TrainerSpec.byte_fallback
	UnkID        int  // TrainerSpec.unk_id (default 0)
	BOSID        int  // TrainerSpec.bos_id (default 1; -1 none)
	EOSID        int  // TrainerSpec.eos_id (default 2; -1 none)
	PadID        int  // TrainerSpec.pad_id (default -1)

	NormalizerName    string // NormalizerSpec.name
	CharsMap          []byte // NormalizerSpec.precompiled_charsmap (nil: none)
	AddDummyPrefix    bool   // NormalizerSpec.add_dummy_prefix (default true)
	RemoveExtraSpaces bool   // NormalizerSpec.remove_extra_whitespaces (default true)
	EscapeWhitespaces bool   // NormalizerSpec.escape_whitespaces (default true)
}

// wire reads protobuf wire format.
type wire struct {
	b   []byte
	off int
}

var errTruncated = errors.New("truncated")

func (w *wire) varint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.off:])
	if n <= 0 {
		return 0, fmt.Errorf("bad varint at byte %d", w.off)
	}
	w.off += n
	return v, nil
}

// field reads the next field's number and wire type.
func (w *wire) field() (num int, typ int, err error) {
	k, err := w.varint()
	if err != nil {
		return 0, 0, err
	}
	if k>>3 == 0 || k>>3 > math.MaxInt32 {
		return 0, 0, fmt.Errorf("bad field number at byte %d", w.off)
	}
	return int(k >> 3), int(k & 7), nil
}

// bytes reads a length-delimited value.
func (w *wire) bytes() ([]byte, error) {
	n, err := w.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(w.b)-w.off) {
		return nil, fmt.Errorf("length %d at byte %d runs past the end: %w", n, w.off, errTruncated)
	}
	v := w.b[w.off : w.off+int(n)]
	w.off += int(n)
	return v, nil
}

func (w *wire) fixed32() (uint32, error) {
	if len(w.b)-w.off < 4 {
		return 0, errTruncated
	}
	v := binary.LittleEndian.Uint32(w.b[w.off:])
	w.off += 4
	return v, nil
}

// skip skips a value of wire type typ.
func (w *wire) skip(typ int) error {
	switch typ {
	case 0:
		_, err := w.varint()
		return err
	case 1:
		if len(w.b)-w.off < 8 {
			return errTruncated
		}
		w.off += 8
		return nil
	case 2:
		_, err := w.bytes()
		return err
	case 5:
		_, err := w.fixed32()
		return err
	}
	return fmt.Errorf("unsupported wire type %d at byte %d", typ, w.off)
}

// fields calls fn for each field of msg; fn reads the value or returns
// handled false to skip it.
func fields(msg []byte, fn func(w *wire, num, typ int) (handled bool, err error)) error {
	w := &wire{b: msg}
	for w.off < len(w.b) {
		num, typ, err := w.field()
		if err != nil {
			return err
		}
		ok, err := fn(w, num, typ)
		if err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
		if !ok {
			if err := w.skip(typ); err != nil {
				return fmt.Errorf("field %d: %w", num, err)
			}
		}
	}
	return nil
}

func wantType(typ, want int) error {
	if typ != want {
		return fmt.Errorf("wire type %d, want %d", typ, want)
	}
	return nil
}

func readInt(w *wire, typ int) (int, error) {
	if err := wantType(typ, 0); err != nil {
		return 0, err
	}
	v, err := w.varint()
	return int(int32(v)), err
}

// ParseProto decodes a serialized ModelProto.
func ParseProto(data []byte) (*Proto, error) {
	p := &Proto{
		ModelType: TypeUnigram, BOSID: 1, EOSID: 2, PadID: -1,
		AddDummyPrefix: true, RemoveExtraSpaces: true, EscapeWhitespaces: true,
	}
	err := fields(data, func(w *wire, num, typ int) (bool, error) {
		switch num {
		case 1: // pieces
			if err := wantType(typ, 2); err != nil {
				return true, err
			}
			msg, err := w.bytes()
			if err != nil {
				return true, err
			}
			return true, p.parsePiece(msg)
		case 2: // trainer_spec
			if err := wantType(typ, 2); err != nil {
				return true, err
			}
			msg, err := w.bytes()
			if err != nil {
				return true, err
			}
			return true, p.parseTrainer(msg)
		case 3: // normalizer_spec
			if err := wantType(typ, 2); err != nil {
				return true, err
			}
			msg, err := w.bytes()
			if err != nil {
				return true, err
			}
			return true, p.parseNormalizer(msg)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if len(p.Pieces) == 0 {
		return nil, errors.New("no pieces")
	}
	return p, nil
}

func (p *Proto) parsePiece(msg []byte) error {
	piece, score, typ := "", float32(0), int32(Normal)
	err := fields(msg, func(w *wire, num, wt int) (bool, error) {
		switch num {
		case 1:
			if err := wantType(wt, 2); err != nil {
				return true, err
			}
			b, err := w.bytes()
			piece = string(b)
			return true, err
		case 2:
			if err := wantType(wt, 5); err != nil {
				return true, err
			}
			v, err := w.fixed32()
			score = math.Float32frombits(v)
			return true, err
		case 3:
			v, err := readInt(w, wt)
			typ = int32(v)
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("piece %d: %w", len(p.Pieces), err)
	}
	p.Pieces = append(p.Pieces, piece)
	p.Scores = append(p.Scores, score)
	p.Types = append(p.Types, typ)
	return nil
}

func (p *Proto) parseTrainer(msg []byte) error {
	err := fields(msg, func(w *wire, num, wt int) (bool, error) {
		var dst *int
		switch num {
		case 3:
			dst = &p.ModelType
		case 35:
			v, err := readInt(w, wt)
			p.ByteFallback = v != 0
			return true, err
		case 40:
			dst = &p.UnkID
		case 41:
			dst = &p.BOSID
		case 42:
			dst = &p.EOSID
		case 43:
			dst = &p.PadID
		default:
			return false, nil
		}
		v, err := readInt(w, wt)
		*dst = v
		return true, err
	})
	if err != nil {
		return fmt.Errorf("trainer_spec: %w", err)
	}
	return nil
}

func (p *Proto) parseNormalizer(msg []byte) error {
	err := fields(msg, func(w *wire, num, wt int) (bool, error) {
		switch num {
		case 1:
			if err := wantType(wt, 2); err != nil {
				return true, err
			}
			b, err := w.bytes()
			p.NormalizerName = string(b)
			return true, err
		case 2:
			if err := wantType(wt, 2); err != nil {
				return true, err
			}
			b, err := w.bytes()
			if len(b) > 0 {
				p.CharsMap = append([]byte(nil), b...)
			}
			return true, err
		case 3, 4, 5:
			v, err := readInt(w, wt)
			switch num {
			case 3:
				p.AddDummyPrefix = v != 0
			case 4:
				p.RemoveExtraSpaces = v != 0
			case 5:
				p.EscapeWhitespaces = v != 0
			}
			return true, err
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("normalizer_spec: %w", err)
	}
	return nil
}
