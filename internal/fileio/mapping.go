package fileio

// Mapping is a read-only view of a whole file.
type Mapping struct {
	// Data is the file's bytes; read-only, invalid after Close.
	Data  []byte
	unmap func() error
}

// Close releases the mapping. It is safe to call more than once.
func (m *Mapping) Close() error {
	if m == nil || m.unmap == nil {
		return nil
	}
	err := m.unmap()
	m.unmap = nil
	m.Data = nil
	return err
}
