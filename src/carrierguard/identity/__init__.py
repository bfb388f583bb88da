"""Japanese identity resolution: names, kana, dates (和暦), addresses; normalisation and matching."""
