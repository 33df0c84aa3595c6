def from_fx(*a, **k):
    raise NotImplementedError
