"""The 30 MLB clubs as the Action Network dimension (action.dim_teams) describes them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Team:
    abbr: str
    location: str
    nickname: str
    league: str  # conference_type: AL / NL
    division: str  # EAST / CENTRAL / WEST
    tz: str  # the home ballpark's time zone
    primary: str
    secondary: str
    venue: str

    @property
    def full_name(self) -> str:
        return f"{self.location} {self.nickname}"

    @property
    def slug(self) -> str:
        return self.full_name.lower().replace(".", "").replace(" ", "-")


ET, CT, MT, PT, AZ = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
)

TEAMS: tuple[Team, ...] = (
    Team("BAL", "Baltimore", "Orioles", "AL", "EAST", ET, "DF4601", "000000", "Oriole Park at Camden Yards"),
    Team("BOS", "Boston", "Red Sox", "AL", "EAST", ET, "BD3039", "0C2340", "Fenway Park"),
    Team("NYY", "New York", "Yankees", "AL", "EAST", ET, "0C2340", "C4CED3", "Yankee Stadium"),
    Team("TB", "Tampa Bay", "Rays", "AL", "EAST", ET, "092C5C", "8FBCE6", "Tropicana Field"),
    Team("TOR", "Toronto", "Blue Jays", "AL", "EAST", "America/Toronto", "134A8E", "1D2D5C", "Rogers Centre"),
    Team("CWS", "Chicago", "White Sox", "AL", "CENTRAL", CT, "27251F", "C4CED4", "Guaranteed Rate Field"),
    Team("CLE", "Cleveland", "Guardians", "AL", "CENTRAL", ET, "00385D", "E50022", "Progressive Field"),
    Team("DET", "Detroit", "Tigers", "AL", "CENTRAL", ET, "0C2340", "FA4616", "Comerica Park"),
    Team("KC", "Kansas City", "Royals", "AL", "CENTRAL", CT, "004687", "BD9B60", "Kauffman Stadium"),
    Team("MIN", "Minnesota", "Twins", "AL", "CENTRAL", CT, "002B5C", "D31145", "Target Field"),
    Team("HOU", "Houston", "Astros", "AL", "WEST", CT, "002D62", "EB6E1F", "Minute Maid Park"),
    Team("LAA", "Los Angeles", "Angels", "AL", "WEST", PT, "BA0021", "003263", "Angel Stadium"),
    Team("OAK", "Oakland", "Athletics", "AL", "WEST", PT, "003831", "EFB21E", "Oakland Coliseum"),
    Team("SEA", "Seattle", "Mariners", "AL", "WEST", PT, "0C2C56", "005C5C", "T-Mobile Park"),
    Team("TEX", "Texas", "Rangers", "AL", "WEST", CT, "003278", "C0111F", "Globe Life Field"),
    Team("ATL", "Atlanta", "Braves", "NL", "EAST", ET, "CE1141", "13274F", "Truist Park"),
    Team("MIA", "Miami", "Marlins", "NL", "EAST", ET, "00A3E0", "EF3340", "loanDepot park"),
    Team("NYM", "New York", "Mets", "NL", "EAST", ET, "002D72", "FF5910", "Citi Field"),
    Team("PHI", "Philadelphia", "Phillies", "NL", "EAST", ET, "E81828", "002D72", "Citizens Bank Park"),
    Team("WSH", "Washington", "Nationals", "NL", "EAST", ET, "AB0003", "14225A", "Nationals Park"),
    Team("CHC", "Chicago", "Cubs", "NL", "CENTRAL", CT, "0E3386", "CC3433", "Wrigley Field"),
    Team("CIN", "Cincinnati", "Reds", "NL", "CENTRAL", ET, "C6011F", "000000", "Great American Ball Park"),
    Team("MIL", "Milwaukee", "Brewers", "NL", "CENTRAL", CT, "12284B", "FFC52F", "American Family Field"),
    Team("PIT", "Pittsburgh", "Pirates", "NL", "CENTRAL", ET, "27251F", "FDB827", "PNC Park"),
    Team("STL", "St. Louis", "Cardinals", "NL", "CENTRAL", CT, "C41E3A", "0C2340", "Busch Stadium"),
    Team("ARI", "Arizona", "Diamondbacks", "NL", "WEST", AZ, "A71930", "E3D4AD", "Chase Field"),
    Team("COL", "Colorado", "Rockies", "NL", "WEST", MT, "333366", "C4CED4", "Coors Field"),
    Team("LAD", "Los Angeles", "Dodgers", "NL", "WEST", PT, "005A9C", "EF3E42", "Dodger Stadium"),
    Team("SD", "San Diego", "Padres", "NL", "WEST", PT, "2F241D", "FFC425", "Petco Park"),
    Team("SF", "San Francisco", "Giants", "NL", "WEST", PT, "FD5A1E", "27251F", "Oracle Park"),
)

ACTION_TEAM_ID_BASE = 191  # action.dim_teams.team_id = base + index in TEAMS
VENUE_ID_BASE = 2600

SPORTSBOOKS: tuple[str, ...] = ("DraftKings", "FanDuel", "BetMGM", "Caesars", "Circa", "Pinnacle")
