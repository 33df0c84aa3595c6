"""Schedule primitives, grouped by what they transform; each group is a mixin of Schedule."""
