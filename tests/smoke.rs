use heaptale::source::Arena;
use heaptale::{Config, Heap, PolicyKind};

#[test]
fn smoke() {
    for policy in [PolicyKind::First, PolicyKind::Next, PolicyKind::Best, PolicyKind::Worst, PolicyKind::Seglist, PolicyKind::Tlsf] {
        let cfg = Config { policy, ..Config::default() };
        let mut h = Heap::new(Arena::new(1 << 20).unwrap(), &cfg).unwrap();
        let a = h.malloc(24).unwrap();
        let b = h.malloc(100).unwrap();
        let c = h.memalign(256, 10).unwrap();
        assert_eq!(c % 256, 0);
        h.check().unwrap();
        h.free(a).unwrap();
        h.check().unwrap();
        assert_eq!(h.free(a), Err(heaptale::HeapError::DoubleFree { addr: a }));
        let b2 = h.realloc(b, 400).unwrap();
        h.check().unwrap();
        h.free(b2).unwrap();
        h.free(c).unwrap();
        h.check().unwrap();
        println!("{policy}: {:?} a={a:#x} b={b:#x} c={c:#x}", h.stats());
    }
}
