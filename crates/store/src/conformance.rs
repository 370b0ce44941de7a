//! The conformance suite every [`Store`] backend must pass. Each backend's tests call
//! [`run_all`] with a function that makes a fresh, empty store. Every required method of
//! [`Store`] is called and its answer checked against the contract documented on it: contents,
//! orders, filters, refusals, and that a failed batch leaves nothing behind. What it cannot
//! see from one handle (durability across a crash, isolation from other handles) each backend
//! tests beside it.

use crate::{
    unpack, AppendBatch, ChannelRow, NewEntry, QuarantineFilter, QuarantineSummary, Quarantined,
    Span, Store, StoreError, StoreExt, StoredIssue, UploadRow,
};

fn entry(i: u8, upload: bool) -> NewEntry {
    NewEntry {
        kind: if upload { 1 } else { 2 },
        data: vec![if upload { 1 } else { 2 }, i, i.wrapping_mul(7), 0xff],
        upload: upload.then(|| UploadRow {
            device: format!("d-{:04}", i % 3),
            seq: u64::from(i),
            record_hash: [i; 32],
            prev: [i.wrapping_sub(1); 32],
            spans: vec![
                Span {
                    meter: format!("m-{i}-a"),
                    start: i64::from(i) * 86_400,
                    end: i64::from(i) * 86_400 + 3_600,
                },
                Span {
                    meter: format!("m-{i}-b"),
                    start: i64::from(i) * 86_400,
                    end: i64::from(i) * 86_400 + 900,
                },
            ],
        }),
    }
}

fn batch(start: u64, n: u8) -> AppendBatch {
    let entries: Vec<NewEntry> = (0..n).map(|k| entry(start as u8 + k, k % 4 != 0)).collect();
    let nodes = (0..n)
        .map(|k| (0u8, start + u64::from(k), [start as u8 + k; 32]))
        .collect();
    AppendBatch {
        start,
        issues: vec![StoredIssue {
            index: start,
            code: "sequence_gap".into(),
            message: format!("gap at {start}"),
        }],
        checkpoint: format!("origin\n{}\nroot\n\n— sig\n", start + u64::from(n)),
        quarantine: Vec::new(),
        blobs: Vec::new(),
        seal: String::new(),
        channels: entries
            .iter()
            .enumerate()
            .filter_map(|(k, e)| {
                let u = e.upload.as_ref()?;
                Some(u.spans.iter().map(move |sp| {
                    ChannelRow {
                        index: start + k as u64,
                        device: u.device.clone(),
                        seq: u.seq,
                        meter: sp.meter.clone(),
                        start: sp.start,
                        interval_s: 900,
                        unit: "kWh".into(),
                        decimals: 3,
                        values: (0..(sp.end - sp.start) / 900)
                            .map(|v| v * 1_000 - 2_500 + u.seq as i64 * 7)
                            .collect(),
                    }
                }))
            })
            .flatten()
            .collect(),
        entries,
        nodes,
    }
}

/// Runs every conformance check, each on a fresh store from `make`. Panics on the first failure,
/// naming the check.
pub fn run_all<S: Store>(make: &mut dyn FnMut() -> S) {
    empty_store(&mut make());
    append_and_read_back(&mut make());
    append_must_be_contiguous(&mut make());
    failed_append_changes_nothing(&mut make());
    quarantine_and_meta(&mut make());
    quarantine_pages_and_summaries(&mut make());
    reporting_index(&mut make());
    sequence_numbers_up_to_2_63_minus_1(&mut make());
    visitors_stop_at_their_error(&mut make());
    index_scans_in_order(&mut make());
    issues_and_checkpoints_in_order(&mut make());
    quarantine_filters(&mut make());
    cosignatures_per_size_and_witness(&mut make());
    snapshots_and_health(&mut make());
}

/// A visitor's error stops a scan and is what the scan returns.
fn visitors_stop_at_their_error<S: Store>(s: &mut S) {
    s.append(&batch(0, 5)).unwrap();
    let stop = || StoreError::NotFound("stop".into());
    let mut n = 0;
    let err = s
        .scan_entries(0, 5, &mut |_, _| {
            n += 1;
            if n == 2 {
                Err(stop())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound(ref m) if m == "stop"),
        "{err:?}"
    );
    assert_eq!(n, 2, "scan_entries went on after its visitor's error");
    let err = s.scan_nodes(&mut |_, _, _| Err(stop())).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = s.scan_channels(&mut |_| Err(stop())).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let meter = batch(0, 5).channels[0].meter.clone();
    let err = s
        .channels_packed(&meter, 5, i64::MIN, i64::MAX, &mut |_| Err(stop()))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    s.quarantine(&[quarantined()]).unwrap();
    let err = s.scan_quarantine(&mut |_| Err(stop())).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    // Reading the entries of a range the log does not hold is an error, not a short scan.
    assert!(s.scan_entries(3, 7, &mut |_, _| Ok(())).is_err());
}

/// The whole-table reads of the reporting index and the spans come in (entry, meter, start)
/// order; a meter's rows come packed, by start, and unpack to the values written.
fn index_scans_in_order<S: Store>(s: &mut S) {
    let b1 = batch(0, 5);
    let b2 = batch(5, 3);
    s.append(&b1).unwrap();
    s.append(&b2).unwrap();
    let mut want: Vec<ChannelRow> = b1.channels.iter().chain(&b2.channels).cloned().collect();
    want.sort_by(|a, b| (a.index, &a.meter, a.start).cmp(&(b.index, &b.meter, b.start)));
    let mut all = Vec::new();
    s.scan_channels(&mut |r| {
        all.push(r);
        Ok(())
    })
    .unwrap();
    assert_eq!(all, want, "scan_channels");
    let mut spans: Vec<(u64, Span)> = b1
        .entries
        .iter()
        .chain(&b2.entries)
        .enumerate()
        .filter_map(|(i, e)| Some((i as u64, e.upload.as_ref()?.spans.clone())))
        .flat_map(|(i, sp)| sp.into_iter().map(move |x| (i, x)))
        .collect();
    spans.sort_by(|(i, a), (j, b)| (i, &a.meter, a.start).cmp(&(j, &b.meter, b.start)));
    assert_eq!(s.spans().unwrap(), spans, "spans");
    for r in &want {
        let mut seen = Vec::new();
        s.channels_packed(&r.meter, 8, r.start, r.end(), &mut |p| {
            assert_eq!((p.index, p.device, p.seq), (r.index, &r.device[..], r.seq));
            assert_eq!(
                (p.start, p.interval_s, p.unit, p.decimals),
                (r.start, 900, "kWh", 3)
            );
            seen.push(unpack(p.packed, &|| p.describe(&r.meter)).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![r.values.clone()], "packed row of {}", r.meter);
    }
    // Two rows of one meter come by start, whatever order they were written in.
    let mut later = batch(8, 1);
    let mut early = b1.channels[0].clone();
    early.index = 8;
    early.device = "d-later".into();
    early.start -= 86_400;
    later.entries[0] = entry(1, true);
    if let Some(u) = later.entries[0].upload.as_mut() {
        u.device = "d-later".into();
        u.spans = vec![Span {
            meter: early.meter.clone(),
            start: early.start,
            end: early.end(),
        }];
    }
    later.nodes = vec![(0, 8, [8; 32])];
    later.channels = vec![early.clone()];
    s.append(&later).unwrap();
    let mut starts = Vec::new();
    s.channels_packed(&early.meter, 9, i64::MIN, i64::MAX, &mut |p| {
        starts.push((p.start, p.index));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        starts,
        vec![
            (early.start, 8),
            (b1.channels[0].start, b1.channels[0].index)
        ]
    );
}

/// Issues come by the entry they concern, then as written; checkpoints by size, and an empty
/// batch re-signs the current size in place.
fn issues_and_checkpoints_in_order<S: Store>(s: &mut S) {
    let issue = |index: u64, code: &str| StoredIssue {
        index,
        code: code.into(),
        message: format!("{code} at {index}"),
    };
    let mut b1 = batch(0, 4);
    b1.issues = vec![issue(3, "late"), issue(1, "first"), issue(1, "second")];
    s.append(&b1).unwrap();
    let mut b2 = batch(4, 2);
    b2.issues = vec![issue(5, "next")];
    s.append(&b2).unwrap();
    assert_eq!(
        s.issues().unwrap(),
        vec![
            issue(1, "first"),
            issue(1, "second"),
            issue(3, "late"),
            issue(5, "next")
        ]
    );
    let resigned = AppendBatch {
        start: 6,
        checkpoint: "origin\n6\nroot\n\n— sig again\n".into(),
        ..AppendBatch::default()
    };
    s.append(&resigned).unwrap();
    assert_eq!(s.size().unwrap(), 6);
    assert_eq!(
        s.checkpoints().unwrap(),
        vec![(4, b1.checkpoint.clone()), (6, resigned.checkpoint.clone())]
    );
    assert_eq!(s.latest_checkpoint().unwrap(), Some(resigned.checkpoint));
    // A blob already held is kept as it is; a batch carrying it again is not refused.
    let mut b3 = batch(6, 1);
    b3.blobs = vec![([5; 32], b"first".to_vec())];
    s.append(&b3).unwrap();
    let mut b4 = batch(7, 1);
    b4.blobs = vec![([5; 32], b"first".to_vec())];
    s.append(&b4).unwrap();
    assert_eq!(s.blob(&[5; 32]).unwrap().as_deref(), Some(&b"first"[..]));
}

/// Listings filter by device, source and age in the store, and counts follow the filters.
fn quarantine_filters<S: Store>(s: &mut S) {
    let items: Vec<Quarantined> = (0..6)
        .map(|k| Quarantined {
            received_at: 1_700_000_000 + k * 10,
            source: format!("peer-{}", k % 2),
            code: if k < 4 { "bad_signature" } else { "bad_json" }.into(),
            device: (k % 3 == 0).then(|| "d-0001".to_string()),
            ..quarantined()
        })
        .collect();
    s.quarantine(&items[..3]).unwrap();
    // Rows carried by a batch follow the ones kept before, in batch order.
    let mut b = batch(0, 1);
    b.quarantine = items[3..].to_vec();
    s.append(&b).unwrap();
    assert_eq!(s.quarantined().unwrap(), items, "in the order written");
    let old = s.quarantine_oldest(None, Some(1_700_000_020), 10).unwrap();
    assert_eq!(
        old.iter().map(|l| l.received_at).collect::<Vec<_>>(),
        vec![1_700_000_000, 1_700_000_010],
        "received before the bound, oldest first"
    );
    let old = s
        .quarantine_oldest(Some("peer-0"), Some(1_700_000_041), 10)
        .unwrap();
    assert_eq!(old.len(), 3, "peer-0's rows 0, 2, 4");
    assert_eq!(s.quarantine_rows_of("peer-1").unwrap(), 3);
    assert_eq!(s.quarantine_rows_of("no-such-peer").unwrap(), 0);
    let mine = ["d-0001".to_string()];
    let counts = s
        .quarantine_counts(QuarantineFilter::Devices(&mine))
        .unwrap();
    assert_eq!(counts.kept, 2, "rows 0 and 3 are d-0001's");
    assert_eq!(counts.by_code.get("bad_signature"), Some(&2));
    let all = s.quarantine_counts(QuarantineFilter::All).unwrap();
    assert_eq!(all.kept, 6);
    assert_eq!(all.by_code.get("bad_json"), Some(&2));
    assert_eq!(
        s.quarantine_counts(QuarantineFilter::Devices(&[]))
            .unwrap()
            .kept,
        0,
        "of no device"
    );
    let page = s.quarantine_page(None, 1, Some(&mine)).unwrap();
    assert_eq!(page.len(), 1, "the device filter comes before the limit");
    assert_eq!(page[0].received_at, 1_700_000_030);
    let next = s.quarantine_page(Some(page[0].id), 5, Some(&mine)).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].received_at, 1_700_000_000);
    assert!(s.quarantine_summaries().unwrap().is_empty());
    // A summary of the same source and code replaces the earlier one, in (source, code) order.
    let summary = |source: &str, code: &str, count| QuarantineSummary {
        source: source.into(),
        code: code.into(),
        count,
        bytes: count * 19,
        first_at: 1,
        last_at: 2,
    };
    s.summarise_quarantine(
        &[],
        &[summary("peer-1", "x", 1), summary("peer-0", "x", 1)],
        "s1",
    )
    .unwrap();
    s.summarise_quarantine(&[1_000_000], &[summary("peer-1", "x", 5)], "s2")
        .unwrap();
    assert_eq!(
        s.quarantine_summaries().unwrap(),
        vec![summary("peer-0", "x", 1), summary("peer-1", "x", 5)]
    );
    assert_eq!(
        s.quarantine_counts(QuarantineFilter::All).unwrap().kept,
        6,
        "an id not kept is ignored"
    );
    assert_eq!(s.meta("seal").unwrap().as_deref(), Some("s2"));
}

/// Cosignature lines are kept per (checkpoint size, witness), a newer line replacing an older.
fn cosignatures_per_size_and_witness<S: Store>(s: &mut S) {
    assert_eq!(s.cosignatures(3).unwrap(), Vec::<String>::new());
    assert_eq!(s.latest_cosigned(None).unwrap(), None);
    let row = |w: &str, l: &str| (w.to_string(), l.to_string());
    s.add_cosignatures(
        3,
        &[row("w2+00000002", "— w2 B"), row("w1+00000001", "— w1 A")],
        "",
    )
    .unwrap();
    s.add_cosignatures(7, &[row("w1+00000001", "— w1 C")], "")
        .unwrap();
    // With a seal: written in the same transaction.
    s.add_cosignatures(7, &[row("w1+00000001", "— w1 D")], "seal after D")
        .unwrap();
    assert_eq!(s.meta("seal").unwrap().as_deref(), Some("seal after D"));
    assert_eq!(s.cosignatures(3).unwrap(), vec!["— w1 A", "— w2 B"]);
    assert_eq!(s.cosignatures(7).unwrap(), vec!["— w1 D"]);
    assert_eq!(s.cosignatures(5).unwrap(), Vec::<String>::new());
    assert_eq!(s.latest_cosigned(None).unwrap(), Some(7));
    assert_eq!(s.latest_cosigned(Some("w2+00000002")).unwrap(), Some(3));
    assert_eq!(s.latest_cosigned(Some("w3+00000003")).unwrap(), None);
}

/// Reads under a snapshot see the store; once it is dropped the handle writes again. A store
/// tanji wrote passes its own check.
fn snapshots_and_health<S: Store>(s: &mut S) {
    assert!(s.quick_check().unwrap().is_empty(), "a new store");
    let b = batch(0, 3);
    s.append(&b).unwrap();
    {
        let _snapshot = s.read_snapshot().unwrap();
        assert_eq!(s.size().unwrap(), 3);
        assert_eq!(s.entry(2).unwrap(), b.entries[2].data);
        assert_eq!(s.latest_checkpoint().unwrap(), Some(b.checkpoint.clone()));
    }
    s.append(&batch(3, 2)).unwrap();
    {
        let _snapshot = s.read_snapshot().unwrap();
        assert_eq!(s.size().unwrap(), 5, "a new snapshot sees the later batch");
    }
    s.quarantine(&[quarantined()]).unwrap();
    s.set_meta("origin", "x").unwrap();
    assert!(s.quick_check().unwrap().is_empty(), "a used store");
}

/// The store holds sequence numbers up to 2^63 − 1 (what validation lets through, its
/// `MAX_SEQ`), and refuses a larger one as a refusal of the batch's data
/// ([`StoreError::is_refusal`]), storing nothing of that batch.
fn sequence_numbers_up_to_2_63_minus_1<S: Store>(s: &mut S) {
    let mut top = batch(0, 2);
    let max = i64::MAX as u64;
    if let Some(u) = top.entries[1].upload.as_mut() {
        u.seq = max;
    }
    top.channels.iter_mut().for_each(|c| c.seq = max);
    s.append(&top).unwrap();
    assert_eq!(s.device_seqs("d-0001", 2).unwrap(), vec![max]);
    let mut over = batch(2, 2);
    if let Some(u) = over.entries[1].upload.as_mut() {
        u.seq = max + 1;
    }
    let err = s.append(&over).unwrap_err();
    assert!(
        matches!(err, StoreError::Refused(_)) && err.is_refusal(),
        "seq 2^63: {err:?}"
    );
    assert_eq!(s.size().unwrap(), 2);
}

fn reporting_index<S: Store>(s: &mut S) {
    let b1 = batch(0, 5);
    let b2 = batch(5, 3);
    s.append(&b1).unwrap();
    s.append(&b2).unwrap();
    assert!(
        s.channels_complete().unwrap(),
        "a new store's index is complete"
    );
    let all: Vec<ChannelRow> = b1.channels.iter().chain(&b2.channels).cloned().collect();
    let read = |s: &S, meter: &str, size: u64, from: i64, to: i64| {
        let mut out = Vec::new();
        s.channels(meter, size, from, to, &mut |r| {
            out.push(r);
            Ok(())
        })
        .unwrap();
        out
    };
    // Every row comes back exactly, found by its meter.
    for r in &all {
        assert_eq!(
            read(s, &r.meter, 8, i64::MIN, i64::MAX),
            vec![r.clone()],
            "channel row of {}",
            r.meter
        );
    }
    // A meter's extent: the first start and the last end of its rows below a size.
    for r in &all {
        let rows: Vec<&ChannelRow> = all.iter().filter(|x| x.meter == r.meter).collect();
        let want = rows
            .iter()
            .map(|x| (x.start, x.end()))
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
        assert_eq!(
            s.channels_extent(&r.meter, 8).unwrap(),
            want,
            "extent of {}",
            r.meter
        );
        assert_eq!(
            s.channels_extent(&r.meter, r.index).unwrap().is_none(),
            rows.iter().all(|x| x.index >= r.index)
        );
    }
    assert_eq!(s.channels_extent("no-such-meter", 8).unwrap(), None);
    let r = &all[0];
    // Overlap is half-open: a period ending at the start, or starting at the end, misses it.
    assert!(read(s, &r.meter, 8, i64::MIN, r.start).is_empty());
    assert!(read(s, &r.meter, 8, r.end(), i64::MAX).is_empty());
    assert_eq!(read(s, &r.meter, 8, r.end() - 1, r.end()).len(), 1);
    // Rows of entries at or beyond `size` are not seen.
    assert!(read(s, &r.meter, r.index, i64::MIN, i64::MAX).is_empty());
    assert!(read(s, "no-such-meter", 8, i64::MIN, i64::MAX).is_empty());
    // Sequence numbers of a device's uploads below a size.
    let d = &all[0].device;
    let mut want: Vec<u64> = all
        .iter()
        .filter(|r| &r.device == d)
        .map(|r| r.seq)
        .collect();
    want.dedup();
    assert_eq!(s.device_seqs(d, 8).unwrap(), want);
    assert!(s.device_seqs("no-such-device", 8).unwrap().is_empty());
    // Leaf hashes are the level-0 nodes.
    let leaves = s.leaf_hashes(8).unwrap();
    assert_eq!(leaves.len(), 8);
    assert_eq!(leaves[6], s.node(0, 6).unwrap());
    assert!(matches!(s.leaf_hashes(9), Err(StoreError::NotFound(_))));
    // Nodes read together are the nodes read one by one, in the order asked, repeats included.
    let mut wanted = Vec::new();
    s.scan_nodes(&mut |l, i, _| {
        wanted.push((l, i));
        Ok(())
    })
    .unwrap();
    wanted.reverse();
    wanted.push(wanted[0]);
    let one_by_one: Vec<tanji_ledger::Hash> =
        wanted.iter().map(|&(l, i)| s.node(l, i).unwrap()).collect();
    assert_eq!(s.nodes(&wanted).unwrap(), one_by_one);
    assert!(s.nodes(&[]).unwrap().is_empty());
    assert!(
        matches!(s.nodes(&[(0, 1), (0, 8)]), Err(StoreError::NotFound(m)) if m.contains("(0, 8)"))
    );
    // A rebuild replaces the index.
    s.rebuild_channels(&all[..1]).unwrap();
    assert!(s.channels_complete().unwrap());
    assert_eq!(read(s, &r.meter, 8, i64::MIN, i64::MAX), vec![r.clone()]);
    assert!(read(s, &all[1].meter, 8, i64::MIN, i64::MAX).is_empty());
}

fn empty_store<S: Store>(s: &mut S) {
    assert_eq!(s.size().unwrap(), 0, "empty store: size");
    assert!(
        s.latest_checkpoint().unwrap().is_none(),
        "empty store: checkpoint"
    );
    assert!(
        matches!(s.entry(0), Err(StoreError::NotFound(_))),
        "empty store: entry 0"
    );
    assert!(
        matches!(s.node(0, 0), Err(StoreError::NotFound(_))),
        "empty store: node"
    );
    assert!(s.uploads().unwrap().is_empty(), "empty store: uploads");
}

fn append_and_read_back<S: Store>(s: &mut S) {
    let b1 = batch(0, 5);
    let b2 = batch(5, 3);
    s.append(&b1).unwrap();
    s.append(&b2).unwrap();
    assert_eq!(s.size().unwrap(), 8, "size after two batches");
    for (i, e) in b1.entries.iter().chain(&b2.entries).enumerate() {
        assert_eq!(s.entry(i as u64).unwrap(), e.data, "entry {i} read back");
    }
    let mut seen = Vec::new();
    s.scan_entries(2, 7, &mut |i, d| {
        seen.push((i, d.to_vec()));
        Ok(())
    })
    .unwrap();
    assert_eq!(seen.len(), 5, "scan_entries range");
    assert_eq!(seen[0].0, 2);
    assert_eq!(s.node(0, 6).unwrap(), [6u8; 32], "node read back");
    let mut nodes = 0;
    s.scan_nodes(&mut |_, _, h| {
        assert_eq!(h.len(), 32);
        nodes += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(nodes, 8, "scan_nodes count");
    let uploads = s.uploads().unwrap();
    let expected: Vec<_> = b1
        .entries
        .iter()
        .chain(&b2.entries)
        .enumerate()
        .filter_map(|(i, e)| e.upload.clone().map(|u| (i as u64, u)))
        .collect();
    assert_eq!(uploads.len(), expected.len(), "upload index rows");
    for (u, (i, row)) in uploads.iter().zip(expected) {
        assert_eq!(u.index, i);
        assert_eq!(u.row, row);
    }
    assert_eq!(
        s.entries_of_kind(2).unwrap(),
        vec![0, 4, 5],
        "entries_of_kind"
    );
    assert_eq!(
        s.latest_checkpoint().unwrap().unwrap(),
        b2.checkpoint,
        "latest checkpoint"
    );
    let cps = s.checkpoints().unwrap();
    assert_eq!(cps.iter().map(|c| c.0).collect::<Vec<_>>(), vec![5, 8]);
    assert_eq!(s.issues().unwrap().len(), 2, "issues");
    assert_eq!(s.blob(&[9; 32]).unwrap(), None, "absent blob");
    let mut b3 = batch(8, 1);
    b3.blobs.push(([9; 32], b"series,csv\n".to_vec()));
    s.append(&b3).unwrap();
    assert_eq!(
        s.blob(&[9; 32]).unwrap().as_deref(),
        Some(&b"series,csv\n"[..]),
        "blob read back"
    );
}

fn append_must_be_contiguous<S: Store>(s: &mut S) {
    s.append(&batch(0, 2)).unwrap();
    let err = s.append(&batch(5, 2)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotContiguous {
                batch_start: 5,
                size: 2
            }
        ),
        "non-contiguous batch: {err}"
    );
    assert_eq!(s.size().unwrap(), 2);
}

fn failed_append_changes_nothing<S: Store>(s: &mut S) {
    s.append(&batch(0, 4)).unwrap();
    // A batch whose second upload repeats (device, seq) of the first violates the index key:
    // the whole batch must be refused, nothing of it stored.
    let mut bad = batch(4, 3);
    bad.entries[2].upload = bad.entries[1].upload.clone();
    bad.quarantine.push(quarantined());
    bad.blobs.push(([7; 32], vec![1, 2, 3]));
    let err = s.append(&bad).unwrap_err();
    assert!(
        err.is_refusal(),
        "duplicate index row must fail as a refusal: {err:?}"
    );
    assert_eq!(s.size().unwrap(), 4, "failed batch left entries behind");
    assert!(
        matches!(s.node(0, 4), Err(StoreError::NotFound(_))),
        "failed batch left a node"
    );
    assert!(s.latest_checkpoint().unwrap().unwrap().contains("\n4\n"));
    assert!(
        s.quarantined().unwrap().is_empty(),
        "failed batch left its quarantine"
    );
    assert!(
        s.issues().unwrap().iter().all(|i| i.index < 4),
        "failed batch left an issue"
    );
    s.append(&batch(4, 3)).unwrap();
    assert_eq!(s.size().unwrap(), 7);
}

fn quarantined() -> Quarantined {
    Quarantined {
        received_at: 1_700_000_000,
        source: "uploads.jsonl:3".into(),
        code: "bad_signature".into(),
        message: "upload d-0001#3: signature does not verify".into(),
        device: Some("d-0001".into()),
        seq: Some(3),
        raw: b"{\"device\":\"d-0001\"}".to_vec(),
        raw_len: 19,
    }
}

fn quarantine_and_meta<S: Store>(s: &mut S) {
    let q = quarantined();
    let q2 = Quarantined {
        device: None,
        seq: None,
        ..q.clone()
    };
    s.quarantine(&[q.clone(), q2.clone()]).unwrap();
    assert_eq!(
        s.quarantined().unwrap(),
        vec![q, q2],
        "quarantine read back"
    );
    assert_eq!(s.size().unwrap(), 0, "quarantine must not touch the log");
    // Quarantine carried by a batch is written with it.
    let mut b = batch(0, 1);
    b.quarantine.push(quarantined());
    s.append(&b).unwrap();
    assert_eq!(s.quarantined().unwrap().len(), 3, "batch quarantine");
    assert_eq!(s.meta("origin").unwrap(), None);
    s.set_meta("origin", "a").unwrap();
    s.set_meta("origin", "b").unwrap();
    assert_eq!(s.meta("origin").unwrap().as_deref(), Some("b"));
}

/// Listings are paged newest first by a cursor, never carry raw bytes, filter by device in the
/// query, and summarising removes rows and keeps their summaries and the seal in one step.
fn quarantine_pages_and_summaries<S: Store>(s: &mut S) {
    let items: Vec<Quarantined> = (0..7)
        .map(|k| Quarantined {
            received_at: 1_700_000_000 + k,
            source: format!("peer-{}", k % 2),
            device: (k % 3 == 0).then(|| "d-0001".to_string()),
            raw: vec![b'x'; 10],
            raw_len: 100,
            ..quarantined()
        })
        .collect();
    s.quarantine(&items).unwrap();
    let first = s.quarantine_page(None, 3, None).unwrap();
    assert_eq!(first.len(), 3, "a page holds at most its limit");
    assert!(first.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let second = s.quarantine_page(Some(first[2].id), 3, None).unwrap();
    assert_eq!(second.len(), 3);
    assert!(second[0].id < first[2].id, "the cursor continues below");
    let last = s.quarantine_page(Some(second[2].id), 3, None).unwrap();
    assert_eq!(last.len(), 1, "7 rows in pages of 3");
    let mine = s
        .quarantine_page(None, 10, Some(&["d-0001".to_string()]))
        .unwrap();
    assert_eq!(mine.len(), 3, "rows 0, 3 and 6 are d-0001's");
    assert!(mine.iter().all(|l| l.raw_len == 100));
    let counts = s.quarantine_counts(QuarantineFilter::All).unwrap();
    assert_eq!(counts.kept, 7);
    assert_eq!(counts.by_code.get("bad_signature"), Some(&7));
    assert_eq!(s.quarantine_rows_of("peer-0").unwrap(), 4);
    let oldest = s.quarantine_oldest(Some("peer-1"), None, 2).unwrap();
    assert_eq!(
        oldest.iter().map(|l| l.received_at).collect::<Vec<_>>(),
        vec![1_700_000_001, 1_700_000_003]
    );
    let ids: Vec<u64> = oldest.iter().map(|l| l.id).collect();
    let summary = QuarantineSummary {
        source: "peer-1".into(),
        code: "bad_signature".into(),
        count: 2,
        bytes: 200,
        first_at: 1_700_000_001,
        last_at: 1_700_000_003,
    };
    s.summarise_quarantine(&ids, std::slice::from_ref(&summary), "seal-1")
        .unwrap();
    assert_eq!(s.quarantine_counts(QuarantineFilter::All).unwrap().kept, 5);
    assert_eq!(s.quarantine_summaries().unwrap(), vec![summary]);
    assert_eq!(s.meta("seal").unwrap().as_deref(), Some("seal-1"));
    let mut scanned = Vec::new();
    s.scan_quarantine(&mut |r| {
        scanned.push(r.id);
        Ok(())
    })
    .unwrap();
    assert_eq!(scanned.len(), 5);
    assert!(scanned.iter().all(|id| !ids.contains(id)));
}

/// The PostgreSQL server the tests of a park on PostgreSQL use: `TANJI_TEST_POSTGRES`, or the
/// CI database (127.0.0.1:5432, database `test`). `None` (the caller says SKIPPED, as this
/// prints) when it cannot be reached outside CI; under CI=true it must be reachable, and this
/// panics saying so.
pub fn postgres_test_url() -> Option<String> {
    let url = std::env::var("TANJI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(_) => Some(url),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL not reachable at {url} (CI=true: it must be): {e}"
            );
            eprintln!("SKIPPED: PostgreSQL not reachable at {url}: {e}");
            None
        }
    }
}
