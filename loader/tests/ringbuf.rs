//! Kernel tests of the event readers: a ring buffer ([`loader::ringbuf::RingBuf`]) and a perf
//! event array ([`loader::perf_buffer::PerfBuffer`]) filled by XDP programs that run through
//! `BPF_PROG_TEST_RUN` on packets the test makes up. Nothing is attached to any interface.

use std::time::Duration;

use asm::{Builder, Helper, Reg::*, Size};
use loader::perf_buffer::{PerfBuffer, PerfEvent, F_CURRENT_CPU};
use loader::ringbuf::RingBuf;
use loader::test_run::TestRun;
use loader::testing::kernel_or_skip;
use loader::{Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};

macro_rules! kernel_test {
    ($name:literal) => {
        if !kernel_or_skip($name) {
            return;
        }
    };
}

const XDP_PASS: u32 = 2;

/// Bytes of each packet an output program copies.
const EVENT: i32 = 32;

fn page_size() -> usize {
    // SAFETY: sysconf reads a constant.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// An XDP program that sends the packet's first [`EVENT`] bytes to map "events" with
/// `bpf_ringbuf_output` (or `bpf_perf_event_output` on the current CPU) and passes. Helpers
/// may not read packet memory, so the bytes are copied to the stack first.
fn output_prog(map: &Map, perf: bool) -> Program {
    let mut b = Builder::new();
    b.mov64(R6, R1)
        .ldx(Size::W, R2, R6, 0)
        .ldx(Size::W, R3, R6, 4)
        .mov64(R4, R2)
        .add64(R4, EVENT)
        .jgt(R4, R3, "out");
    for off in (0..EVENT as i16).step_by(8) {
        b.ldx(Size::DW, R1, R2, off)
            .stx(Size::DW, R10, -(EVENT as i16) + off, R1);
    }
    b.mov64(R7, R10).add64(R7, -EVENT);
    if perf {
        b.mov64(R1, R6)
            .ld_map(R2, "events")
            .lddw(R3, F_CURRENT_CPU)
            .mov64(R4, R7)
            .mov64(R5, EVENT)
            .call(Helper::PerfEventOutput);
    } else {
        b.ld_map(R1, "events")
            .mov64(R2, R7)
            .mov64(R3, EVENT)
            .mov64(R4, 0)
            .call(Helper::RingbufOutput);
    }
    b.label("out").mov64(R0, XDP_PASS as i32).exit();
    Program::load(
        &ProgramSpec::new("output", ProgramType::Xdp),
        &b.build().unwrap(),
        &[map],
    )
    .unwrap()
}

/// Runs `prog` `repeat` times on `packet`, checking it passed.
fn run(prog: &Program, packet: &[u8], repeat: u32) {
    let r = prog
        .test_run(&TestRun {
            data_in: packet,
            repeat,
            ..TestRun::default()
        })
        .unwrap();
    assert_eq!(r.retval, XDP_PASS);
}

fn packet(round: u8) -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(3).wrapping_add(round.wrapping_mul(41)))
        .collect()
}

fn ringbuf_map(size: usize) -> Map {
    Map::create(&MapSpec::new("events", MapType::RingBuf, 0, 0, size as u32)).unwrap()
}

#[test]
fn ringbuf_records_are_byte_exact_across_wrap_around() {
    kernel_test!("ringbuf_records_are_byte_exact_across_wrap_around");
    let size = page_size();
    let map = ringbuf_map(size);
    let prog = output_prog(&map, false);
    let mut rb = RingBuf::new(&map).unwrap();
    assert_eq!(rb.size(), size);
    assert!(rb.next().is_none());
    assert!(!rb.wait(Some(Duration::ZERO)).unwrap());

    // A record takes 8 + 32 bytes; rounds of half a buffer, 5 rounds: the positions go
    // around the buffer more than twice, and one record straddles its end (40 does not
    // divide a power of two), which only the kernel's double mapping makes contiguous.
    let rec = (EVENT as usize + 8).div_ceil(8) * 8;
    let fit = size / rec;
    let per_round = (fit / 2) as u32;
    for round in 0..5u8 {
        let p = packet(round);
        run(&prog, &p, per_round);
        assert!(rb.wait(Some(Duration::ZERO)).unwrap());
        assert_eq!(rb.pending(), u64::from(per_round) * rec as u64);
        let mut n = 0;
        while let Some(r) = rb.next() {
            assert_eq!(&r[..], &p[..EVENT as usize], "round {round} record {n}");
            n += 1;
        }
        assert_eq!(n, per_round, "round {round}");
        assert_eq!(rb.pending(), 0);
    }

    // More than fits without reading: the kernel keeps exactly what fits and drops the rest.
    let p = packet(9);
    run(&prog, &p, 2 * fit as u32);
    let mut n = 0;
    let got = rb.drain(|r| {
        assert_eq!(r, &p[..EVENT as usize]);
        n += 1;
    });
    assert_eq!(got, fit);
    assert_eq!(n, fit);
    // Room again after reading.
    run(&prog, &p, 1);
    assert_eq!(rb.drain(|_| {}), 1);
}

#[test]
fn ringbuf_skips_discarded_records() {
    kernel_test!("ringbuf_skips_discarded_records");
    let map = ringbuf_map(page_size());
    // Reserve 16 bytes, fill with 0x11.., discard; reserve again, fill with 0x22.., submit.
    let mut b = Builder::new();
    for (i, fill) in [0x1111_1111i32, 0x2222_2222].into_iter().enumerate() {
        let skip = format!("skip{i}");
        b.ld_map(R1, "events")
            .mov64(R2, 16)
            .mov64(R3, 0)
            .call(Helper::RingbufReserve)
            .jeq(R0, 0, &skip)
            .st(Size::W, R0, 0, fill)
            .st(Size::W, R0, 4, fill)
            .st(Size::W, R0, 8, fill)
            .st(Size::W, R0, 12, fill)
            .mov64(R1, R0)
            .mov64(R2, 0)
            .call(if i == 0 {
                Helper::RingbufDiscard
            } else {
                Helper::RingbufSubmit
            })
            .label(&skip);
    }
    b.mov64(R0, XDP_PASS as i32).exit();
    let prog = Program::load(
        &ProgramSpec::new("reserve", ProgramType::Xdp),
        &b.build().unwrap(),
        &[&map],
    )
    .unwrap();
    let mut rb = RingBuf::new(&map).unwrap();
    run(&prog, &packet(0), 3);
    // Both records take space; only the submitted ones are read.
    assert_eq!(rb.pending(), 3 * 2 * 24);
    let mut got = Vec::new();
    rb.drain(|r| got.push(r.to_vec()));
    assert_eq!(got, vec![vec![0x22u8; 16]; 3]);
    assert_eq!(rb.pending(), 0);
}

#[test]
fn ringbuf_wait_wakes_up_on_a_record() {
    kernel_test!("ringbuf_wait_wakes_up_on_a_record");
    let map = ringbuf_map(page_size());
    let prog = output_prog(&map, false);
    let rb = RingBuf::new(&map).unwrap();
    let waiter = std::thread::spawn(move || {
        let mut rb = rb;
        // An upper bound against hanging, not a timing assertion.
        let woke = rb.wait(Some(Duration::from_secs(60))).unwrap();
        let mut got = Vec::new();
        rb.drain(|r| got.push(r.to_vec()));
        (woke, got)
    });
    // Give the waiter time to block in epoll_wait (it also passes if it has not yet).
    std::thread::sleep(Duration::from_millis(200));
    let p = packet(3);
    run(&prog, &p, 1);
    let (woke, got) = waiter.join().unwrap();
    assert!(woke);
    assert_eq!(got, vec![p[..EVENT as usize].to_vec()]);
}

#[test]
fn ringbuf_reader_rejects_other_maps() {
    kernel_test!("ringbuf_reader_rejects_other_maps");
    let m = Map::create(&MapSpec::new("not_rb", MapType::Array, 4, 4, 1)).unwrap();
    assert!(matches!(
        RingBuf::new(&m),
        Err(loader::Error::InvalidArgument(_))
    ));
    assert!(matches!(
        PerfBuffer::new(&m, 0),
        Err(loader::Error::InvalidArgument(_))
    ));
}

/// Pins the calling thread to `cpu`, so that every test run lands in that CPU's buffer.
fn pin_to(cpu: u32) {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu as usize).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).unwrap();
}

#[test]
fn perf_buffer_samples_and_lost_records() {
    kernel_test!("perf_buffer_samples_and_lost_records");
    let cpus = loader::perf_buffer::online_cpus().unwrap();
    // The first online CPU this process may run on.
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let cpu = *cpus
        .iter()
        .find(|&&c| allowed.is_set(c as usize).unwrap_or(false))
        .unwrap();
    pin_to(cpu);
    let entries = cpus.iter().max().unwrap() + 1;
    let map = Map::create(&MapSpec::new(
        "events",
        MapType::PerfEventArray,
        4,
        4,
        entries,
    ))
    .unwrap();
    let prog = output_prog(&map, true);
    let mut pb = PerfBuffer::new(&map, 0).unwrap();
    assert_eq!(pb.cpus(), cpus);
    assert!(pb.read_events().is_empty());
    assert!(!pb.wait(Some(Duration::ZERO)).unwrap());

    // The raw data is padded so that its 4-byte size and the data end 8-byte aligned.
    let raw_len = (EVENT as usize + 4).div_ceil(8) * 8 - 4;
    for round in 0..3u8 {
        let p = packet(round);
        run(&prog, &p, 10);
        assert!(pb.wait(Some(Duration::ZERO)).unwrap());
        let events = pb.read_events();
        assert_eq!(events.len(), 10, "round {round}");
        for e in events {
            match e {
                PerfEvent::Sample { cpu: c, data } => {
                    assert_eq!(c, cpu);
                    assert_eq!(data.len(), raw_len);
                    assert_eq!(&data[..EVENT as usize], &p[..EVENT as usize]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    // Three buffers' worth without reading: the ring keeps what fits, the kernel counts
    // the rest and reports the count once there is room again.
    let record = 8 + 4 + raw_len;
    let total = (3 * pb.data_size() / record) as u32;
    let p7 = packet(7);
    run(&prog, &p7, total);
    // The ring's positions have gone around by now (a 48-byte record does not divide the
    // data area, so one straddles its end): every kept sample is still byte-exact.
    let kept = pb.read_events();
    for e in &kept {
        assert!(
            matches!(e, PerfEvent::Sample { cpu: c, data } if *c == cpu && data.len() == raw_len && data[..EVENT as usize] == p7[..EVENT as usize]),
            "{e:?}"
        );
    }
    let kept = kept.len() as u64;
    assert!(kept > 0 && kept < u64::from(total), "{kept} of {total}");
    assert_eq!(pb.lost(), 0);
    run(&prog, &packet(8), 1);
    let after = pb.read_events();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(
        after[0],
        PerfEvent::Lost {
            cpu,
            count: u64::from(total) - kept
        }
    );
    assert!(
        matches!(&after[1], PerfEvent::Sample { data, .. } if data[..EVENT as usize] == packet(8)[..EVENT as usize])
    );
    assert_eq!(pb.lost(), u64::from(total) - kept);

    // Dropping the reader empties the map's slots (user space cannot look them up: a delete
    // says whether there was something).
    drop(pb);
    assert!(!map.delete(&cpu.to_ne_bytes()).unwrap());
}

#[test]
fn test_run_gives_back_the_verdict_and_the_changed_packet() {
    kernel_test!("test_run_gives_back_the_verdict_and_the_changed_packet");
    const XDP_TX: i32 = 3;
    // Writes 0xee into the packet's first byte and bounces it.
    let mut b = Builder::new();
    b.ldx(Size::W, R2, R1, 0)
        .ldx(Size::W, R3, R1, 4)
        .mov64(R4, R2)
        .add64(R4, 1)
        .jgt(R4, R3, "out")
        .st(Size::B, R2, 0, 0xee)
        .label("out")
        .mov64(R0, XDP_TX)
        .exit();
    let prog = Program::load(
        &ProgramSpec::new("bounce", ProgramType::Xdp),
        &b.build().unwrap(),
        &[],
    )
    .unwrap();
    let p = packet(1);
    let r = prog
        .test_run(&TestRun {
            data_in: &p,
            data_out_size: 256,
            repeat: 3,
            ..TestRun::default()
        })
        .unwrap();
    assert_eq!(r.retval, XDP_TX as u32);
    let mut want = p.clone();
    want[0] = 0xee;
    assert_eq!(r.data_out, want);
    // Too little room for the packet: ENOSPC.
    let e = prog
        .test_run(&TestRun {
            data_in: &p,
            data_out_size: 10,
            ..TestRun::default()
        })
        .unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOSPC), "{e}");

    // A socket filter's return value is how much of the packet to keep.
    let mut b = Builder::new();
    b.mov64(R0, 42).exit();
    let filter = Program::load(
        &ProgramSpec::new("keep42", ProgramType::SocketFilter),
        &b.build().unwrap(),
        &[],
    )
    .unwrap();
    let r = filter
        .test_run(&TestRun {
            data_in: &p,
            ..TestRun::default()
        })
        .unwrap();
    assert_eq!(r.retval, 42);
    assert!(r.data_out.is_empty());

    // A context goes in: a sched_cls program returns the `mark` of the `struct __sk_buff`
    // it is given (the offset from the vendored linux/bpf.h: the struct up to `mark`, as the
    // layout reader does not take the bit-fields further down).
    let h = uapi::headers::BPF_H;
    let start = h.find("struct __sk_buff {").unwrap();
    let end = start + h[start..].find("mark;").unwrap() + "mark;".len();
    let head = format!("{}\n}};", &h[start..end]);
    let skb = uapi::header::struct_layout(&head, "__sk_buff").unwrap();
    let mark = skb.offset("mark").unwrap();
    let mut b = Builder::new();
    b.ldx(Size::W, R0, R1, mark as i16).exit();
    let cls = Program::load(
        &ProgramSpec::new("mark", ProgramType::SchedCls),
        &b.build().unwrap(),
        &[],
    )
    .unwrap();
    let mut ctx = vec![0u8; mark + 4];
    ctx[mark..].copy_from_slice(&0x5eed_u32.to_ne_bytes());
    let r = cls
        .test_run(&TestRun {
            data_in: &p,
            ctx_in: &ctx,
            ..TestRun::default()
        })
        .unwrap();
    assert_eq!(r.retval, 0x5eed);
}
