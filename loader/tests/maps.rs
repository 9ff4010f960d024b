//! Kernel tests of map operations: typed views and iteration (hash, array, per-CPU), batch
//! operations and their per-element fallback, lookup-and-delete, queues and stacks, maps of
//! maps, freezing. Nothing is attached; every map dies with the test.

use std::collections::{BTreeMap, BTreeSet};

use loader::features::{probe, Feature};
use loader::map::{QUEUE, STACK};
use loader::testing::kernel_or_skip;
use loader::typed::{PerCpuMap, TypedMap, TypedQueue};
use loader::{Error, Map, MapSpec, MapType, UpdateFlags};

macro_rules! kernel_test {
    ($name:literal) => {
        if !kernel_or_skip($name) {
            return;
        }
    };
}

fn map(name: &str, t: MapType, key: u32, value: u32, max: u32) -> Map {
    Map::create(&MapSpec::new(name, t, key, value, max)).unwrap()
}

#[test]
fn typed_views_of_hash_array_and_per_cpu_maps() {
    kernel_test!("typed_views_of_hash_array_and_per_cpu_maps");
    let h = map("typed_hash", MapType::Hash, 4, 8, 64);
    let th = TypedMap::<u32, u64>::new(&h).unwrap();
    for k in 0..40u32 {
        th.insert(&k, &(u64::from(k) * 1000 + 7), UpdateFlags::Any)
            .unwrap();
    }
    assert_eq!(th.get(&39).unwrap(), Some(39_007));
    assert_eq!(th.get(&40).unwrap(), None);
    assert!(th.remove(&5).unwrap());
    assert!(!th.remove(&5).unwrap());
    assert!(matches!(
        th.insert(&6, &1, UpdateFlags::NoExist).unwrap_err().errno(),
        Some(libc::EEXIST)
    ));
    let got: BTreeMap<u32, u64> = th.iter().map(Result::unwrap).collect();
    let want: BTreeMap<u32, u64> = (0..40u32)
        .filter(|&k| k != 5)
        .map(|k| (k, u64::from(k) * 1000 + 7))
        .collect();
    assert_eq!(got, want);
    let keys: BTreeSet<u32> = th.keys().map(Result::unwrap).collect();
    assert_eq!(keys, want.keys().copied().collect());

    // Sizes are checked when the view is made.
    assert!(matches!(
        TypedMap::<u16, u64>::new(&h),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        TypedMap::<u32, u32>::new(&h),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        PerCpuMap::<u32, u64>::new(&h),
        Err(Error::InvalidArgument(_))
    ));

    // An array of byte arrays: every index exists.
    let a = map("typed_array", MapType::Array, 4, 16, 8);
    let ta = TypedMap::<u32, [u8; 16]>::new(&a).unwrap();
    ta.insert(&3, &[0xab; 16], UpdateFlags::Any).unwrap();
    let all: Vec<(u32, [u8; 16])> = ta.iter().map(Result::unwrap).collect();
    assert_eq!(all.len(), 8);
    for (k, v) in all {
        assert_eq!(v, if k == 3 { [0xab; 16] } else { [0; 16] }, "index {k}");
    }

    // Per-CPU: one value per possible CPU.
    let cpus = loader::env::possible_cpus().unwrap();
    let p = map("typed_percpu", MapType::PerCpuArray, 4, 8, 4);
    let tp = PerCpuMap::<u32, u64>::new(&p).unwrap();
    assert!(TypedMap::<u32, u64>::new(&p).is_err());
    let values: Vec<u64> = (0..cpus as u64).map(|c| 0x1000 + c).collect();
    tp.insert(&2, &values, UpdateFlags::Any).unwrap();
    assert_eq!(tp.get(&2).unwrap(), Some(values.clone()));
    assert!(matches!(
        tp.insert(&1, &values[1..], UpdateFlags::Any),
        Err(Error::InvalidArgument(_))
    ));
    let all: Vec<(u32, Vec<u64>)> = tp.iter().map(Result::unwrap).collect();
    assert_eq!(all.len(), 4);
    assert_eq!(all[2], (2, values));
    assert_eq!(all[0], (0, vec![0; cpus]));

    let ph = map("typed_percpu_h", MapType::PerCpuHash, 8, 4, 16);
    let tph = PerCpuMap::<[u8; 8], u32>::new(&ph).unwrap();
    tph.insert(b"abcdefgh", &vec![9; cpus], UpdateFlags::Any)
        .unwrap();
    let all: Vec<_> = tph.iter().map(Result::unwrap).collect();
    assert_eq!(all, vec![(*b"abcdefgh", vec![9u32; cpus])]);
    assert!(tph.remove(b"abcdefgh").unwrap());
    assert_eq!(tph.get(b"abcdefgh").unwrap(), None);
}

#[test]
fn iteration_survives_deleting_during_the_walk() {
    kernel_test!("iteration_survives_deleting_during_the_walk");
    let h = map("walk_hash", MapType::Hash, 4, 4, 128);
    let th = TypedMap::<u32, u32>::new(&h).unwrap();
    for k in 0..100u32 {
        th.insert(&k, &(k + 1), UpdateFlags::Any).unwrap();
    }
    let mut yielded = Vec::new();
    let mut current_deleted = 0;
    let mut partner_deleted = BTreeSet::new();
    for entry in th.iter() {
        let (k, v) = entry.unwrap();
        assert_eq!(v, k + 1);
        assert!(
            !partner_deleted.contains(&k),
            "{k} was deleted before it was reached"
        );
        yielded.push(k);
        // Every 10th key: delete the key the walk stands on. The kernel then restarts the
        // walk from the first key, which was yielded already and must not come again.
        if yielded.len() % 10 == 0 {
            assert!(th.remove(&k).unwrap());
            current_deleted += 1;
        }
        // Every 7th key: delete its partner, if the walk has not reached it yet.
        let partner = k ^ 1;
        if yielded.len() % 7 == 0 && !yielded.contains(&partner) && th.remove(&partner).unwrap() {
            partner_deleted.insert(partner);
        }
    }
    let unique: BTreeSet<u32> = yielded.iter().copied().collect();
    assert_eq!(
        unique.len(),
        yielded.len(),
        "a key was yielded twice: {yielded:?}"
    );
    assert_eq!(yielded.len() + partner_deleted.len(), 100);
    assert!(current_deleted >= 9);
    assert_eq!(
        h.keys().count(),
        100 - current_deleted - partner_deleted.len()
    );
}

#[test]
fn lookup_and_delete_on_a_hash_map() {
    kernel_test!("lookup_and_delete_on_a_hash_map");
    if !probe(Feature::HashLookupAndDelete).unwrap() {
        eprintln!(
            "SKIP lookup_and_delete_on_a_hash_map: {}",
            Feature::HashLookupAndDelete
        );
        return;
    }
    let h = map("lad_hash", MapType::Hash, 4, 8, 8);
    let th = TypedMap::<u32, u64>::new(&h).unwrap();
    th.insert(&1, &0xfeed, UpdateFlags::Any).unwrap();
    assert_eq!(th.lookup_and_delete(&1).unwrap(), Some(0xfeed));
    assert_eq!(th.get(&1).unwrap(), None);
    assert_eq!(th.lookup_and_delete(&1).unwrap(), None);
    // Arrays never support it.
    let a = map("lad_array", MapType::Array, 4, 8, 2);
    assert!(a.lookup_and_delete(&0u32.to_ne_bytes()).is_err());
}

#[test]
fn batch_operations_and_their_fallback() {
    kernel_test!("batch_operations_and_their_fallback");
    let batch = probe(Feature::MapBatch).unwrap();
    eprintln!("batch operations: {batch}");
    let h = map("batch_hash", MapType::Hash, 4, 8, 2048);
    let keys: Vec<[u8; 4]> = (0..1000u32).map(|k| k.to_ne_bytes()).collect();
    let values: Vec<[u8; 8]> = (0..1000u64).map(|k| (k * 3).to_ne_bytes()).collect();
    let entries: Vec<(&[u8], &[u8])> = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| (&k[..], &v[..]))
        .collect();
    assert_eq!(h.update_batch(&entries, UpdateFlags::Any).unwrap(), 1000);
    // NoExist applies to every element: the first one already exists.
    assert_eq!(
        h.update_batch(&entries[..1], UpdateFlags::NoExist)
            .unwrap_err()
            .errno(),
        Some(libc::EEXIST)
    );

    let all = h.lookup_batch(7).unwrap();
    assert_eq!(all.len(), 1000);
    let got: BTreeMap<Vec<u8>, Vec<u8>> = all.into_iter().collect();
    for (k, v) in &entries {
        assert_eq!(got.get(*k).map(Vec::as_slice), Some(*v));
    }

    let first_half: Vec<&[u8]> = keys[..500].iter().map(|k| &k[..]).collect();
    assert_eq!(h.delete_batch(&first_half).unwrap(), 500);
    assert_eq!(h.get(&keys[0]).unwrap(), None);
    assert!(h.get(&keys[500]).unwrap().is_some());

    let rest = h.lookup_and_delete_batch(64).unwrap();
    assert_eq!(rest.len(), 500);
    let rest_keys: BTreeSet<u32> = rest
        .iter()
        .map(|(k, _)| u32::from_ne_bytes(k[..4].try_into().unwrap()))
        .collect();
    assert_eq!(rest_keys, (500..1000).collect());
    assert_eq!(h.keys().count(), 0);

    // Arrays have lookup and update batches, not deletion.
    let a = map("batch_array", MapType::Array, 4, 4, 10);
    let idx: Vec<[u8; 4]> = (0..10u32).map(|i| i.to_ne_bytes()).collect();
    let vals: Vec<[u8; 4]> = (0..10u32).map(|i| (i + 100).to_ne_bytes()).collect();
    let e: Vec<(&[u8], &[u8])> = idx
        .iter()
        .zip(&vals)
        .map(|(k, v)| (&k[..], &v[..]))
        .collect();
    assert_eq!(a.update_batch(&e, UpdateFlags::Any).unwrap(), 10);
    let all = a.lookup_batch(3).unwrap();
    assert_eq!(all.len(), 10);
    for (k, v) in all {
        let i = u32::from_ne_bytes(k[..4].try_into().unwrap());
        assert_eq!(v, (i + 100).to_ne_bytes());
    }

    // An LPM trie: batch operations on newer kernels, the per-element fallback where the
    // kernel says ENOTSUPP; the results are the same. (The fallback itself is checked
    // offline, with a fake bpf(), in the crate's unit tests.)
    let t = map("batch_trie", MapType::LpmTrie, 8, 8, 16);
    let tk: Vec<[u8; 8]> = (0..5u8)
        .map(|i| {
            let mut k = [0u8; 8];
            k[..4].copy_from_slice(&32u32.to_ne_bytes());
            k[4..].copy_from_slice(&[10, 0, 0, i]);
            k
        })
        .collect();
    let tv: Vec<[u8; 8]> = (0..5u64).map(|i| (i + 7).to_ne_bytes()).collect();
    let e: Vec<(&[u8], &[u8])> = tk.iter().zip(&tv).map(|(k, v)| (&k[..], &v[..])).collect();
    assert_eq!(t.update_batch(&e, UpdateFlags::Any).unwrap(), 5);
    let all: BTreeMap<Vec<u8>, Vec<u8>> = t.lookup_batch(2).unwrap().into_iter().collect();
    assert_eq!(all.len(), 5);
    for (k, v) in &e {
        assert_eq!(all.get(*k).map(Vec::as_slice), Some(*v));
    }
    let two: Vec<&[u8]> = tk[..2].iter().map(|k| &k[..]).collect();
    assert_eq!(t.delete_batch(&two).unwrap(), 2);
    assert_eq!(t.lookup_batch(8).unwrap().len(), 3);
}

#[test]
fn queue_and_stack_maps() {
    kernel_test!("queue_and_stack_maps");
    let q = map("test_queue", QUEUE, 0, 4, 3);
    let tq = TypedQueue::<u32>::new(&q).unwrap();
    assert_eq!(tq.pop().unwrap(), None);
    assert_eq!(tq.peek().unwrap(), None);
    for v in [10u32, 20, 30] {
        tq.push(&v, UpdateFlags::Any).unwrap();
    }
    assert_eq!(
        tq.push(&40, UpdateFlags::Any).unwrap_err().errno(),
        Some(libc::E2BIG)
    );
    // BPF_EXIST makes room by dropping the oldest.
    tq.push(&40, UpdateFlags::Exist).unwrap();
    assert_eq!(tq.peek().unwrap(), Some(20));
    assert_eq!(tq.pop().unwrap(), Some(20));
    assert_eq!(tq.pop().unwrap(), Some(30));
    assert_eq!(tq.pop().unwrap(), Some(40));
    assert_eq!(tq.pop().unwrap(), None);

    let s = map("test_stack", STACK, 0, 8, 4);
    let ts = TypedQueue::<u64>::new(&s).unwrap();
    for v in 1..=3u64 {
        ts.push(&v, UpdateFlags::Any).unwrap();
    }
    assert_eq!(ts.peek().unwrap(), Some(3));
    assert_eq!(ts.pop().unwrap(), Some(3));
    assert_eq!(ts.pop().unwrap(), Some(2));
    assert_eq!(ts.pop().unwrap(), Some(1));
    assert_eq!(ts.pop().unwrap(), None);

    assert!(TypedQueue::<u32>::new(&s).is_err());
    let h = map("not_a_queue", MapType::Hash, 4, 4, 1);
    assert!(TypedQueue::<u32>::new(&h).is_err());
    assert!(matches!(h.pop(), Err(Error::InvalidArgument(_))));
}

#[test]
fn maps_of_maps_hold_inner_maps_by_fd_and_give_ids() {
    kernel_test!("maps_of_maps_hold_inner_maps_by_fd_and_give_ids");
    let template = map("inner_tmpl", MapType::Array, 4, 8, 4);
    for outer_type in [MapType::ArrayOfMaps, MapType::HashOfMaps] {
        let outer = Map::create_with(
            &MapSpec::new("outer", outer_type, 4, 4, 4),
            Some(std::os::fd::AsFd::as_fd(&template)),
            None,
        )
        .unwrap();
        let inner = map("inner", MapType::Array, 4, 8, 4);
        let slot = 1u32.to_ne_bytes();
        assert_eq!(outer.inner_id(&slot).unwrap(), None);
        outer.set_inner(&slot, &inner, UpdateFlags::Any).unwrap();
        assert_eq!(outer.inner_id(&slot).unwrap(), Some(inner.id()));
        let reopened = outer.get_inner(&slot).unwrap().unwrap();
        assert_eq!(reopened.id(), inner.id());
        reopened
            .put(&2u32.to_ne_bytes(), &77u64.to_ne_bytes(), UpdateFlags::Any)
            .unwrap();
        assert_eq!(
            inner.get(&2u32.to_ne_bytes()).unwrap(),
            Some(77u64.to_ne_bytes().to_vec())
        );
        // A map of another shape does not fit the slots.
        let odd = map("odd_inner", MapType::Array, 4, 4, 4);
        assert_eq!(
            outer
                .set_inner(&slot, &odd, UpdateFlags::Any)
                .unwrap_err()
                .errno(),
            Some(libc::EINVAL)
        );
        assert!(outer.delete(&slot).unwrap());
        assert_eq!(outer.get_inner(&slot).unwrap().map(|m| m.id()), None);
        assert!(matches!(
            inner.set_inner(&slot, &odd, UpdateFlags::Any),
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn frozen_maps_refuse_updates() {
    kernel_test!("frozen_maps_refuse_updates");
    let a = map("frozen", MapType::Array, 4, 4, 2);
    a.put(&0u32.to_ne_bytes(), &5u32.to_ne_bytes(), UpdateFlags::Any)
        .unwrap();
    a.freeze().unwrap();
    let err = a
        .put(&0u32.to_ne_bytes(), &6u32.to_ne_bytes(), UpdateFlags::Any)
        .unwrap_err();
    assert_eq!(err.errno(), Some(libc::EPERM), "{err}");
    assert_eq!(
        a.get(&0u32.to_ne_bytes()).unwrap(),
        Some(5u32.to_ne_bytes().to_vec())
    );
}

#[test]
fn map_operation_probes_agree_with_the_kernel() {
    kernel_test!("map_operation_probes_agree_with_the_kernel");
    let batch = probe(Feature::MapBatch).unwrap();
    let lad = probe(Feature::HashLookupAndDelete).unwrap();
    eprintln!(
        "{}: {batch}; {}: {lad}",
        Feature::MapBatch,
        Feature::HashLookupAndDelete
    );
    let h = map("probe_check", MapType::Hash, 4, 4, 4);
    let r = h.lookup_and_delete(&1u32.to_ne_bytes());
    assert_eq!(r.is_ok(), lad, "{r:?}");
    if lad {
        assert_eq!(r.unwrap(), None);
    }
}

/// The map type probe shapes each map the way its type demands: every type this test names
/// exists on every kernel the matrix runs (6.1 and later), so each must answer yes; a number
/// no kernel knows answers no.
#[test]
fn map_type_probe_knows_the_shapes() {
    if !loader::testing::kernel_or_skip("map_type_probe_knows_the_shapes") {
        return;
    }
    use loader::{features, Feature, MapType};
    use uapi::bpf::*;
    for raw in [
        BPF_MAP_TYPE_HASH,
        BPF_MAP_TYPE_ARRAY,
        BPF_MAP_TYPE_PROG_ARRAY,
        BPF_MAP_TYPE_PERF_EVENT_ARRAY,
        BPF_MAP_TYPE_PERCPU_HASH,
        BPF_MAP_TYPE_PERCPU_ARRAY,
        BPF_MAP_TYPE_STACK_TRACE,
        BPF_MAP_TYPE_LRU_HASH,
        BPF_MAP_TYPE_LPM_TRIE,
        BPF_MAP_TYPE_ARRAY_OF_MAPS,
        BPF_MAP_TYPE_HASH_OF_MAPS,
        BPF_MAP_TYPE_SOCKMAP,
        BPF_MAP_TYPE_SOCKHASH,
        BPF_MAP_TYPE_QUEUE,
        BPF_MAP_TYPE_STACK,
        BPF_MAP_TYPE_SK_STORAGE,
        BPF_MAP_TYPE_RINGBUF,
        BPF_MAP_TYPE_TASK_STORAGE,
        BPF_MAP_TYPE_BLOOM_FILTER,
        BPF_MAP_TYPE_USER_RINGBUF,
    ] {
        let t = MapType::from_raw(raw);
        assert!(
            features::probe(Feature::MapType(t)).unwrap(),
            "map type {t}"
        );
    }
    assert!(!features::probe(Feature::MapType(MapType::Other(999))).unwrap());
}
