//! Every error case of the builder, the binder and the decoder, with the message it gives.

use asm::insn::op;
use asm::{AsmError, AtomicOp, Builder, DecodeError, Insn, InsnError, Reg::*, Size, MAX_INSNS};

fn build(f: impl FnOnce(&mut Builder)) -> Result<asm::Program, AsmError> {
    let mut b = Builder::new();
    f(&mut b);
    b.build()
}

fn invalid(f: impl FnOnce(&mut Builder)) -> (usize, InsnError) {
    match build(f) {
        Err(AsmError::InvalidInsn { insn, source }) => (insn, source),
        other => panic!("expected InvalidInsn, got {other:?}"),
    }
}

#[test]
fn undefined_label() {
    let err = build(|b| {
        b.mov64(R0, 0).ja("nowhere").exit();
    })
    .unwrap_err();
    assert_eq!(
        err,
        AsmError::UndefinedLabel {
            label: "nowhere".into(),
            insn: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "instruction 1: jump to undefined label `nowhere`"
    );
}

#[test]
fn duplicate_label() {
    let err = build(|b| {
        b.label("a").mov64(R0, 0).label("a").exit();
    })
    .unwrap_err();
    assert_eq!(
        err,
        AsmError::DuplicateLabel {
            label: "a".into(),
            insn: 1
        }
    );
}

#[test]
fn label_after_the_last_instruction() {
    let err = build(|b| {
        b.mov64(R0, 0).exit().label("end");
    })
    .unwrap_err();
    assert_eq!(
        err,
        AsmError::LabelAtEnd {
            label: "end".into()
        }
    );
}

#[test]
fn jump_out_of_i16_range_suggests_the_long_jump() {
    let err = build(|b| {
        b.jeq(R1, 0, "far");
        for _ in 0..40_000 {
            b.mov64(R0, 0);
        }
        b.label("far").exit();
    })
    .unwrap_err();
    assert_eq!(
        err,
        AsmError::JumpOutOfRange {
            label: "far".into(),
            insn: 0,
            offset: 40_000
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("ja32") && msg.contains("gotol"), "{msg}");

    // Backwards too: -32769 does not fit, -32768 does.
    let back = |n: usize| {
        build(|b| {
            b.label("top");
            for _ in 0..n {
                b.mov64(R0, 0);
            }
            b.ja("top");
        })
    };
    assert!(back(32_767).is_ok());
    assert!(matches!(
        back(32_768),
        Err(AsmError::JumpOutOfRange {
            offset: -32_769,
            ..
        })
    ));
}

#[test]
fn the_long_jump_reaches_beyond_i16() {
    let prog = build(|b| {
        b.ja32("far");
        for _ in 0..40_000 {
            b.mov64(R0, 0);
        }
        b.label("far").exit();
    })
    .unwrap();
    assert_eq!(prog.insns()[0], Insn::ja32(40_000));
}

#[test]
fn jump_into_another_function() {
    let err = build(|b| {
        b.ja("inside").function("f").label("inside").exit();
    })
    .unwrap_err();
    assert!(matches!(err, AsmError::JumpAcrossFunctions { insn: 0, .. }));
}

#[test]
fn unresolved_map() {
    let prog = build(|b| {
        b.ld_map(R1, "known")
            .ld_map_value(R2, "missing", 4)
            .mov64(R0, 0)
            .exit();
    })
    .unwrap();
    let err = prog
        .resolve_maps(|n| (n == "known").then_some(3))
        .unwrap_err();
    assert_eq!(
        err,
        AsmError::UnresolvedMap {
            name: "missing".into(),
            insn: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "instruction 2: map `missing` is not defined"
    );
    let bound = prog.resolve_maps(|_| Some(7)).unwrap();
    assert_eq!((bound[0].imm, bound[2].imm, bound[3].imm), (7, 7, 4));
}

#[test]
fn undefined_subprogram() {
    let err = build(|b| {
        b.call_fn("helper").exit();
    })
    .unwrap_err();
    assert_eq!(
        err,
        AsmError::UndefinedFunction {
            name: "helper".into(),
            insn: 0
        }
    );
}

#[test]
fn duplicate_and_empty_functions() {
    let dup = build(|b| {
        b.exit().function("f").exit().function("f").exit();
    });
    assert_eq!(
        dup.unwrap_err(),
        AsmError::DuplicateFunction { name: "f".into() }
    );
    let empty = build(|b| {
        b.exit().function("f");
    });
    assert_eq!(
        empty.unwrap_err(),
        AsmError::EmptyFunction { name: "f".into() }
    );
}

#[test]
fn r10_as_alu_destination() {
    let (insn, e) = invalid(|b| {
        b.mov64(R0, 0).add64(R10, 8).exit();
    });
    assert_eq!((insn, e.clone()), (1, InsnError::FramePointerWrite));
    assert!(e.to_string().contains("read-only frame pointer"));
    // Also 32-bit ALU, loads, lddw and fetching atomics.
    assert_eq!(
        invalid(|b| {
            b.mov32(R10, 0).exit();
        })
        .1,
        InsnError::FramePointerWrite
    );
    assert_eq!(
        invalid(|b| {
            b.ldx(Size::W, R10, R1, 0).exit();
        })
        .1,
        InsnError::FramePointerWrite
    );
    assert_eq!(
        invalid(|b| {
            b.lddw(R10, 1).exit();
        })
        .1,
        InsnError::FramePointerWrite
    );
    assert_eq!(
        invalid(|b| {
            b.atomic(AtomicOp::FetchAdd, Size::DW, R1, 0, R10).exit();
        })
        .1,
        InsnError::FramePointerWrite
    );
    // r10 as a store base and a non-fetching atomic source is fine.
    assert!(build(|b| {
        b.stx(Size::DW, R10, -8, R1)
            .st(Size::W, R10, -12, 0)
            .atomic(AtomicOp::Add, Size::DW, R1, 0, R10)
            .atomic(AtomicOp::Cmpxchg, Size::DW, R1, 0, R10)
            .exit();
    })
    .is_ok());
}

#[test]
fn invalid_register_number() {
    let (insn, e) = invalid(|b| {
        b.push(Insn::new(op::ALU64 | op::MOV | op::K, 11, 0, 0, 0))
            .exit();
    });
    assert_eq!((insn, e), (0, InsnError::InvalidRegister(11)));
    let (_, e) = invalid(|b| {
        b.push(Insn::new(op::ALU64 | op::MOV | op::X, 1, 12, 0, 0))
            .exit();
    });
    assert_eq!(e, InsnError::InvalidRegister(12));
}

#[test]
fn movsx_with_64() {
    let (_, e) = invalid(|b| {
        b.movsx64(R1, R2, 64).exit();
    });
    assert!(matches!(e, InsnError::InvalidOperand(m) if m.contains("movsx")));
    // The 32-bit form cannot extend from 32 bits.
    let (_, e) = invalid(|b| {
        b.movsx32(R1, R2, 32).exit();
    });
    assert!(matches!(e, InsnError::InvalidOperand(_)));
}

#[test]
fn atomic_of_size_b_or_h() {
    for size in [Size::B, Size::H] {
        let (_, e) = invalid(|b| {
            b.atomic(AtomicOp::Add, size, R1, 0, R2).exit();
        });
        assert_eq!(
            e,
            InsnError::InvalidOperand("atomic operations are 32 or 64 bits")
        );
    }
}

#[test]
fn ldxsx_dw() {
    let (_, e) = invalid(|b| {
        b.ldxsx(Size::DW, R1, R2, 0).exit();
    });
    assert!(matches!(e, InsnError::InvalidOperand(m) if m.contains("sign-extending")));
}

#[test]
fn endian_width_8() {
    for f in [Builder::be, Builder::le, Builder::bswap] {
        let (_, e) = invalid(|b| {
            f(b, R1, 8).exit();
        });
        assert_eq!(
            e,
            InsnError::InvalidOperand("byte swap width must be 16, 32 or 64")
        );
    }
}

#[test]
fn reserved_fields() {
    let (_, e) = invalid(|b| {
        b.push(Insn::new(op::JMP | op::EXIT, 0, 0, 0, 1));
    });
    assert_eq!(e, InsnError::ReservedField("imm"));
    let (_, e) = invalid(|b| {
        b.push(Insn::new(op::ALU64 | op::ADD | op::K, 1, 0, 2, 0))
            .exit();
    });
    assert_eq!(e, InsnError::ReservedField("off"));
    // A map-fd load whose second half carries a value.
    let (_, e) = invalid(|b| {
        b.raw_wide(Insn::lddw_pseudo(R1, op::PSEUDO_MAP_FD, 3, 1))
            .exit();
    });
    assert!(matches!(e, InsnError::ReservedField(_)));
    // A kfunc call may carry a module BTF index in off.
    assert!(build(|b| {
        b.push(Insn::new(
            op::JMP | op::CALL,
            0,
            op::PSEUDO_KFUNC_CALL,
            2,
            77,
        ))
        .exit();
    })
    .is_ok());
}

#[test]
fn lddw_pushed_as_one_slot() {
    let (_, e) = invalid(|b| {
        b.push(Insn::lddw(R1, 5)[0]).exit();
    });
    assert_eq!(e, InsnError::BrokenLddw);
}

#[test]
fn missing_final_exit() {
    let err = build(|b| {
        b.mov64(R0, 0);
    })
    .unwrap_err();
    assert_eq!(
        err,
        AsmError::MissingExit {
            function: "main".into(),
            insn: 0
        }
    );
    assert!(err.to_string().contains("does not end with exit"));
    // Subprograms too.
    let err = build(|b| {
        b.call_fn("f").exit().function("f").mov64(R0, 1);
    })
    .unwrap_err();
    assert!(matches!(err, AsmError::MissingExit { function, insn: 2 } if function == "f"));
    // A final unconditional jump is an end too.
    assert!(build(|b| {
        b.label("top").mov64(R0, 0).ja("top");
    })
    .is_ok());
}

#[test]
fn empty_program() {
    let err = build(|_| {}).unwrap_err();
    assert_eq!(err, AsmError::Empty);
    assert!(err.to_string().starts_with("empty program"));
}

#[test]
fn more_than_a_million_instructions() {
    // 500_001 lddw (two slots each) and an exit: 1_000_003 slots.
    let mut b = Builder::new();
    for _ in 0..500_001 {
        b.lddw(R0, 1);
    }
    b.exit();
    let err = b.build().unwrap_err();
    assert_eq!(err, AsmError::TooLong { len: 1_000_003 });
    assert!(err.to_string().contains("1000000"));
    assert_eq!(MAX_INSNS, 1_000_000);
}

#[test]
fn exactly_the_limit_builds() {
    let mut b = Builder::new();
    for _ in 0..(MAX_INSNS - 2) / 2 {
        b.lddw(R0, 1);
    }
    b.mov64(R0, 0).exit();
    assert_eq!(b.build().unwrap().len(), MAX_INSNS);
}

#[test]
fn decoder_errors() {
    assert_eq!(
        asm::decode(&[0; 7]).unwrap_err(),
        DecodeError::TrailingBytes { len: 7 }
    );
    // An lddw cut off at the end.
    let bytes = asm::encode(&[Insn::lddw(R1, 1)[0]]);
    assert_eq!(
        asm::decode(&bytes).unwrap_err(),
        DecodeError::InvalidInsn {
            insn: 0,
            source: InsnError::BrokenLddw
        }
    );
    // A jump into the middle of an lddw.
    let mut v = vec![Insn::ja(1)];
    v.extend(Insn::lddw(R1, 1));
    v.push(Insn::exit());
    assert_eq!(
        asm::decode(&asm::encode(&v)).unwrap_err(),
        DecodeError::BadJumpTarget { insn: 0, target: 2 }
    );
    // A call past the end.
    let v = [Insn::call_local(5), Insn::exit()];
    assert_eq!(
        asm::decode(&asm::encode(&v)).unwrap_err(),
        DecodeError::BadJumpTarget { insn: 0, target: 6 }
    );
    // Unknown opcode.
    assert_eq!(
        asm::decode(&[0xff, 0, 0, 0, 0, 0, 0, 0]).unwrap_err(),
        DecodeError::InvalidInsn {
            insn: 0,
            source: InsnError::UnknownOpcode(0xff)
        }
    );
}
