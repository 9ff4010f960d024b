//! The disassembler (to be completed).
