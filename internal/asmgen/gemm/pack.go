package main

import (
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// packBTrans generates packBTransAVX2, the packing of a transposed B
// panel (a linear layer's weight rows as the columns of op(B)): 32 rows of
// b, ldb apart, become kc rows of 32 in d. It goes in 8x8 blocks: eight
// row loads, the usual unpack/shuffle/lane-permute transpose (Intel's
// optimization manual, "8x8 matrix transpose"), eight row stores; the Go
// loop it replaces moved one float at a time.
func packBTrans() {
	build.TEXT("packBTransAVX2", build.NOSPLIT, "func(d *float32, b *float32, ldb int, kc int)")
	build.Pragma("noescape")
	build.Doc("packBTransAVX2 writes d[p*32 + j] = b[j*ldb + p] for j < 32, p < kc,",
		"kc a positive multiple of 8; the Go caller checks the bounds.")
	d := build.Load(build.Param("d"), build.GP64())
	b := build.Load(build.Param("b"), build.GP64())
	ldb := build.Load(build.Param("ldb"), build.GP64())
	build.SHLQ(operand.U8(2), ldb)
	kc := build.Load(build.Param("kc"), build.GP64())
	ldb3 := build.GP64()
	build.LEAQ(operand.Mem{Base: ldb, Index: ldb, Scale: 2}, ldb3)

	p := build.GP64() // byte offset of the block's first column in b's rows
	dp := build.GP64()
	build.XORQ(p, p)
	build.MOVQ(d, dp)
	build.SHLQ(operand.U8(2), kc) // bytes of kc columns
	build.Label("pack_cols")
	rowBlock := build.GP64()
	build.LEAQ(operand.Mem{Base: b, Index: p, Scale: 1}, rowBlock)
	for jb := 0; jb < 4; jb++ {
		// Rows 8jb..8jb+7, columns p..p+7: rows at rowBlock + r*ldb.
		r4 := build.GP64()
		build.LEAQ(operand.Mem{Base: rowBlock, Index: ldb, Scale: 4}, r4)
		rows := make([]reg.VecVirtual, 8)
		addr := func(r int) operand.Mem {
			base := reg.Register(rowBlock)
			if r >= 4 {
				base, r = r4, r-4
			}
			switch r {
			case 0:
				return operand.Mem{Base: base}
			case 1:
				return operand.Mem{Base: base, Index: ldb, Scale: 1}
			case 2:
				return operand.Mem{Base: base, Index: ldb, Scale: 2}
			default:
				return operand.Mem{Base: base, Index: ldb3, Scale: 1}
			}
		}
		for r := range rows {
			rows[r] = build.YMM()
			build.VMOVUPS(addr(r), rows[r])
		}
		for c, col := range transpose8(rows) {
			build.VMOVUPS(col, operand.Mem{Base: dp, Disp: c*128 + jb*32})
		}
		if jb < 3 {
			build.LEAQ(operand.Mem{Base: r4, Index: ldb, Scale: 4}, rowBlock)
		}
	}
	build.ADDQ(operand.U32(8*128), dp)
	build.ADDQ(operand.U8(32), p)
	build.CMPQ(p, kc)
	build.JB(operand.LabelRef("pack_cols"))
	build.VZEROUPPER()
	build.RET()
}

// transpose8 emits the 8x8 transpose of rows (eight ymm of eight floats)
// and returns its columns: column c holds rows[0][c] .. rows[7][c].
func transpose8(rows []reg.VecVirtual) []reg.VecVirtual {
	t := make([]reg.VecVirtual, 8)
	for i := 0; i < 4; i++ {
		t[2*i], t[2*i+1] = build.YMM(), build.YMM()
		build.VUNPCKLPS(rows[2*i+1], rows[2*i], t[2*i])
		build.VUNPCKHPS(rows[2*i+1], rows[2*i], t[2*i+1])
	}
	tt := make([]reg.VecVirtual, 8)
	for h := 0; h < 2; h++ { // rows 0-3, then 4-7
		a0, a1, a2, a3 := t[4*h], t[4*h+1], t[4*h+2], t[4*h+3]
		tt[4*h], tt[4*h+1], tt[4*h+2], tt[4*h+3] = build.YMM(), build.YMM(), build.YMM(), build.YMM()
		build.VSHUFPS(operand.U8(0x44), a2, a0, tt[4*h])
		build.VSHUFPS(operand.U8(0xEE), a2, a0, tt[4*h+1])
		build.VSHUFPS(operand.U8(0x44), a3, a1, tt[4*h+2])
		build.VSHUFPS(operand.U8(0xEE), a3, a1, tt[4*h+3])
	}
	// Column c is the low lanes of tt[c] and tt[c+4] for c < 4, their
	// high lanes for c >= 4.
	cols := make([]reg.VecVirtual, 8)
	for c := range cols {
		cols[c] = build.YMM()
		imm := uint8(0x20)
		if c >= 4 {
			imm = 0x31
		}
		build.VPERM2F128(operand.U8(imm), tt[c%4+4], tt[c%4], cols[c])
	}
	return cols
}

// packA6 generates packA6AVX2, the packing of a panel of 6 rows of a
// row-major A: d[p*6 + i] = a[i*lda + p]. Eight steps at a time, the six
// rows and two zero rows go through the 8x8 transpose and each column's
// first six floats are stored: a full 8-float store that the next column
// overwrites in part, and the last column as 4 + 2 floats so that nothing
// is written past the block.
func packA6() {
	build.TEXT("packA6AVX2", build.NOSPLIT, "func(d *float32, a *float32, lda int, kc int)")
	build.Pragma("noescape")
	build.Doc("packA6AVX2 writes d[p*6 + i] = a[i*lda + p] for i < 6, p < kc,",
		"kc a positive multiple of 8; the Go caller checks the bounds.")
	d := build.Load(build.Param("d"), build.GP64())
	a := build.Load(build.Param("a"), build.GP64())
	lda := build.Load(build.Param("lda"), build.GP64())
	build.SHLQ(operand.U8(2), lda)
	kc := build.Load(build.Param("kc"), build.GP64())
	build.SHLQ(operand.U8(2), kc) // bytes of kc steps in a row
	end := build.GP64()
	build.LEAQ(operand.Mem{Base: a, Index: kc, Scale: 1}, end)
	a3 := build.GP64()
	build.LEAQ(operand.Mem{Base: lda, Index: lda, Scale: 2}, a3)
	build.ADDQ(a, a3)
	zero := build.YMM()
	build.VXORPS(zero, zero, zero)
	build.Label("packa_steps")
	rows := make([]reg.VecVirtual, 8)
	for r := 0; r < 6; r++ {
		rows[r] = build.YMM()
		var m operand.Mem
		switch r {
		case 0:
			m = operand.Mem{Base: a}
		case 1:
			m = operand.Mem{Base: a, Index: lda, Scale: 1}
		case 2:
			m = operand.Mem{Base: a, Index: lda, Scale: 2}
		case 3:
			m = operand.Mem{Base: a3}
		case 4:
			m = operand.Mem{Base: a, Index: lda, Scale: 4}
		default:
			m = operand.Mem{Base: a3, Index: lda, Scale: 2}
		}
		build.VMOVUPS(m, rows[r])
	}
	rows[6], rows[7] = zero, zero
	cols := transpose8(rows)
	for c := 0; c < 7; c++ {
		build.VMOVUPS(cols[c], operand.Mem{Base: d, Disp: 24 * c})
	}
	build.VMOVUPS(cols[7].AsX(), operand.Mem{Base: d, Disp: 24 * 7})
	hi := build.XMM()
	build.VEXTRACTF128(operand.U8(1), cols[7], hi)
	build.VMOVSD(hi, operand.Mem{Base: d, Disp: 24*7 + 16})
	build.ADDQ(operand.U8(32), a)
	build.ADDQ(operand.U8(32), a3)
	build.ADDQ(operand.U8(8*24), d)
	build.CMPQ(a, end)
	build.JB(operand.LabelRef("packa_steps"))
	build.VZEROUPPER()
	build.RET()
}
