def half(:
    return "SELECT * FROM splits.games"
