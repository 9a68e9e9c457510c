"""Display names, attributes and categories of a gift shop's products, read from their upper-case names.

The UCI Online Retail catalog has no categories or attributes: a product is a stock code and a name such as
"WHITE HANGING HEART T-LIGHT HOLDER". Everything here is DERIVED from those names by documented keyword rules:

* :func:`display_name` turns the name into sentence case ("White hanging heart T-light holder"), keeping
  abbreviations (LED, 3D, USB, A4), sizes and weights ("40x40cm", "3.5g") and proper nouns (Christmas, Paris).
* :func:`product_type` finds the product-type noun (holder, lantern, bag, mug, …) from the lexicon
  :data:`PRODUCT_TYPES`: the rightmost type noun of the name, looking first at the part before " in "/" with "
  (so "Ceramic bowl with love heart design" is a bowl and "Plasters in tin skulls" are plasters). Its
  category is a readable plural label ("Holders", "Bags", "Mugs").
* :func:`name_attributes` lists ``name:value`` attributes: ``type`` (the type noun), ``colour``, ``material``,
  ``pattern`` and ``theme`` from the keyword lexicons :data:`COLOURS`, :data:`MATERIALS`, :data:`PATTERNS` and
  :data:`THEMES` (a keyword counts when it is a whole word of the name).

A keyword rule misses products whose names use words outside the lexicons; :func:`catalog_coverage` measures
how many products, and how much revenue, carry each kind of attribute and a category, so the gaps are known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd
from pydantic import BaseModel, Field

__all__ = [
    "ATTRIBUTE_KINDS",
    "COLOURS",
    "MATERIALS",
    "PATTERNS",
    "PRODUCT_TYPES",
    "THEMES",
    "CatalogCoverage",
    "Coverage",
    "catalog_coverage",
    "display_name",
    "name_attributes",
    "product_type",
]

#: Tokens kept in upper case in display names (abbreviations and paper sizes).
UPPER_TOKENS = frozenset({
    "LED", "3D", "USB", "DVD", "CD", "UK", "USA", "DIY", "XL", "XXL", "A3", "A4", "A5", "A6", "A7", "TV", "OK",
    "UFO", "PVC", "ABC", "M.O.P", "UBO-LIGHT",
})  # fmt: skip

#: Proper nouns capitalised in display names (place names, festivals, styles named after people or places).
PROPER_NOUNS = frozenset({
    "christmas", "xmas", "easter", "halloween", "valentine", "valentines", "santa", "paris", "london", "england",
    "english", "french", "france", "british", "scandinavian", "victorian", "edwardian", "regency", "moroccan",
    "chinese", "japanese", "indian", "swiss", "spanish", "mexican", "russian", "columbian", "murano", "morris",
    "union", "jack", "lola", "charlie", "boudicca", "suki", "charlotte", "nile", "eau", "venetian", "roman",
    "african", "tuscan", "bombay", "hawaiian", "finnish", "danish", "dutch", "american", "jean-paul", "monsieur",
    "madame", "queen", "king", "ipod",
})  # fmt: skip

#: The pronoun "I" and its contractions, capitalised wherever they stand ("I love London").
PRONOUN_I = frozenset({"i", "i'm", "i'll", "i've", "i'd"})

#: Words that make a product type, in lexicon order (multi-word terms before their last word), with the
#: category each belongs to. Plurals of a term match too (an "s" or "es" ending).
PRODUCT_TYPES: dict[str, tuple[str, ...]] = {
    "Holders": ("cardholder", "candlepot", "t-light holder", "tealight holder", "tea light holder", "candle holder",
                "candleholder", "candlestick", "candle stick", "holder", "hldr", "candle pot"),
    "Lanterns": ("lantern",),
    "Candles": ("chocolatecandle", "candle", "t-light", "tealight", "incense", "incense cone", "wax tart"),
    "Lights": ("chandelier", "night light", "light", "lights", "lamp", "lampshade", "lamp shade", "fairy lights",
               "string lights", "torch", "light garland"),
    "Bags": ("bag", "handbag", "tote", "shopper", "washbag", "wash bag", "backpack", "rucksack", "satchel", "sack",
             "charlotte bag", "jumbo bag", "lunch bag", "gift bag", "party bag", "shopping bag", "beach bag",
             "bag charm"),
    "Purses & wallets": ("purse", "wallet", "coin purse", "money box", "passport cover", "card holder"),
    "Mugs": ("mug",),
    "Cups & saucers": ("cup", "saucer", "teacup", "tea cup", "beaker", "cup and saucer", "egg cup"),
    "Plates & bowls": ("plate", "bowl", "dish", "platter", "cake plate"),
    "Cake stands": ("cake stand", "cakestand", "cake tier"),
    "Baking": ("cake frill", "cake slice", "cake fork", "cake cases", "cake case", "baking cases", "cupcake cases",
               "cake mould", "mould", "cookie cutter", "biscuit cutters", "cutter", "baking set", "cake tin", "pastry",
               "icing", "rolling pin", "measuring spoons", "measuring cups", "cake forks", "baking cup"),
    "Kitchenware": ("chopsticks", "place settings", "place setting", "toastrack", "corer", "apple corer", "coffee set",
                    "cooking set", "lolly makers", "lolly maker", "basin", "jam making set", "breakfast set", "brush",
                    "dispenser", "sugar", "caddy", "tea caddy", "food cover", "tea for one", "spoon", "ladle",
                    "spatula", "whisk", "tongs", "frying pan", "pan", "teapot", "tea pot", "cafetiere", "coffee pot",
                    "jug", "pitcher", "tray", "chopping board", "board", "colander", "egg timer", "timer", "scales",
                    "tea set", "cutlery", "tea strainer", "tea infuser", "placemats", "bottle opener", "corkscrew",
                    "grater", "thermometer", "pot holder", "picnic set", "bin", "toast rack", "straws",
                    "drinking straw", "butter dish", "salt", "pepper", "bottle stopper"),
    "Kitchen textiles": ("apron", "tea-towel", "towel", "oven glove", "oven mitt", "placemat", "place mat", "coaster",
                         "napkin", "napkins", "napkin ring", "table cloth", "tablecloth", "doily", "doilies", "cosy",
                         "tea cosy", "bib"),
    "Kitchen storage": ("lunch box", "lunchbox", "food container", "sandwich box", "bread bin", "milk bottle",
                        "water bottle", "bottle", "flask", "jar", "storage jar", "container", "canister"),
    "Glasses": ("glass", "glasses", "tumbler", "wine glass", "shot glass", "carafe", "decanter"),
    "Tins": ("tin", "tins", "biscuit tin", "storage tin"),
    "Boxes": ("storage cube", "storage cubes", "case", "mini cases", "box", "boxes", "trinket box", "jewellery box",
              "storage box", "chest", "hatbox", "hat box", "casket", "crate"),
    "Baskets": ("basket", "hamper", "trug", "bucket", "pail", "planter", "plant pot", "flower pot", "pot"),
    "Cards": ("card", "greeting card", "birthday card", "christmas card", "cards", "postcard", "gift tag", "tag",
              "tags", "gift tags", "invitation", "invitations"),
    "Wrapping": ("wrap", "wrapping paper", "gift wrap", "ribbon", "ribbons", "ribbon reel", "reel", "tissue paper",
                 "tissue", "cellophane", "gift box", "gift bags", "tape", "washi tape", "twine", "string"),
    "Tissues": ("tissues", "pocket tissues"),
    "Stationery": ("black board", "transfer", "transfers", "decal", "decals", "wall sticker", "wall stickers",
                   "memoboard", "memo pad", "shopping list", "scissor", "scissors", "pencil sharpener", "notebook",
                   "note book", "notepad", "note pad", "pad", "sketchbook", "sketch book", "journal", "diary",
                   "address book", "book", "pen", "pens", "pencil", "pencils", "crayons", "eraser", "rubber",
                   "sharpener", "ruler", "stickers", "sticker", "sticky notes", "envelope", "envelopes", "letter rack",
                   "writing set", "writing paper", "calendar", "planner", "bookmark", "clipboard", "paperweight",
                   "p'weight", "stamp", "stamps", "photo album", "album", "scrapbook", "folder", "file", "pencil case",
                   "pencil tube", "tube", "colouring book", "chalk", "chalkboard", "memo board", "blackboard",
                   "organiser", "stationery set", "letter", "letters"),
    "Decorations": ("christmas balls", "christmas ball", "bell", "print", "art print", "wall art print", "block word",
                    "sleigh bells", "bells", "stocking", "rosette", "flying ducks", "pennant", "owls", "pears",
                    "decoration", "decorations", "ornament", "bauble", "baubles", "wreath", "garland", "bunting",
                    "mobile", "tree", "christmas tree", "wall art", "wall decoration", "hanging decoration",
                    "heart decoration", "star", "stars", "heart", "hearts", "angel", "fairy", "figure", "figurine",
                    "ornaments", "snowflake", "icicle", "chime", "chimes", "wind chime", "windchime", "dreamcatcher",
                    "sculpture", "statue", "bunny", "bird", "birds", "butterfly", "butterflies", "flowers",
                    "artificial flower", "flower", "stem", "stems", "wall hanging", "plaque", "advent calendar", "hen",
                    "chick", "chicks", "egg", "eggs", "toadstool", "doll", "reindeer", "tree topper"),
    "Signs": ("doorsign", "sign", "door sign", "metal sign", "wall sign", "hanging sign", "tile", "number tile",
              "door plate", "doorplate"),
    "Frames": ("photo cube", "frame", "photo frame", "photoframe", "picture frame", "frames"),
    "Mirrors": ("mirror", "mirrors"),
    "Clocks": ("clock", "alarm clock", "wall clock"),
    "Hot water bottles & warmers": ("hot water bottle", "hottie", "hand warmer", "warmer", "heat pack"),
    "Gift sets": ("gift set", "baby gift set", "gift hamper"),
    "Crafts": ("paper chain kit", "stencil", "patches", "patch", "knitting nancy", "modelling clay", "paint your own",
               "craft", "craft kit", "sewing kit", "knitting kit", "button", "buttons", "embroidery kit",
               "cross stitch", "felt craft", "colouring set", "paint set", "bead kit", "origami"),
    "Cushions": ("cushion", "cushion cover", "cushion covers", "cushions", "filler pad", "pillow", "throw", "blanket",
                 "quilt", "bolster", "doorstop", "door stop"),
    "Hooks & hangers": ("hook", "hooks", "hanger", "hangers", "coat hanger", "coat rack", "peg", "pegs", "door hanger",
                        "clothes pegs", "tie backs", "curtain", "key holder"),
    "Keyrings": ("key ring", "keyring", "key fob", "key chain", "key-chains"),
    "Knobs": ("drawerknob", "knob", "knobs", "drawer knob", "door knob", "drawer pull"),
    "Storage & furniture": ("pouffe", "seat", "love seat", "tidy", "wall tidy", "rack", "shelf", "shelves", "cabinet",
                            "drawer", "drawers", "drawer liners", "liners", "stool", "table", "chair", "screen",
                            "magazine rack", "coat stand", "storage unit"),
    "Doormats": ("doormat", "door mat", "mat", "rug"),
    "Magnets": ("magnet", "magnets", "fridge magnet"),
    "Jewellery": ("necklace", "necklace+bracelet", "bracelet", "earrings", "earring", "ring", "rings", "brooch",
                  "pendant", "charm", "charms", "bangle", "anklet", "beads", "bead", "choker", "chain", "cufflinks",
                  "jewellery", "lariat", "neckl.", "bracelet set", "jewel"),
    "Hair accessories": ("hair clip", "hair clips", "hair slide", "hair grip", "hairclip", "hair band", "hairband",
                         "hair tie", "hair comb", "comb", "alice band", "scrunchie", "tiara", "hair bobbles",
                         "hair accessories", "bobbles"),
    "Fashion accessories": ("slipper", "shoes", "badge", "badges", "skirt", "grass skirt", "sock", "slipper sock",
                            "umbrella", "parasol", "scarf", "gloves", "hat", "rain hat", "sunglasses", "fan", "poncho",
                            "mittens", "socks", "slippers", "headband", "belt", "sombrero", "mac", "raincoat",
                            "wellies", "luggage tag"),
    "Toys & games": ("helicopter", "flying disc", "farm animal", "creepy crawlies", "calculator", "glider", "gliders",
                     "rounders", "croquet", "garden set", "bingo", "bingo set", "snakes & ladders", "naughts & crosses",
                     "noughts & crosses", "rocking horse", "heads and tails", "toy", "toys", "game", "games", "jigsaw",
                     "jigsaw puzzle", "puzzle", "playing cards", "skittles", "dominoes", "spinning top", "yo-yo",
                     "kite", "ball", "balls", "marbles", "bubbles", "soft toy", "teddy", "puppet", "dolls house",
                     "playhouse", "skipping rope", "snakes and ladders", "ludo", "kit", "magic drawing slate", "slate",
                     "stress ball", "blocks", "building blocks", "money bank", "piggy bank", "rattle", "harmonica",
                     "whistle", "tattoos", "masks", "mask", "party hat", "party hats", "crown", "wand", "stamp set"),
    "Party supplies": ("cocktail swords", "cocktail sticks", "cracker", "crackers", "flag", "flags", "party cones",
                       "cones", "balloon", "balloons", "confetti", "party bags", "party invites", "candles set",
                       "cake topper", "cake toppers", "napkin set", "paper plates", "paper cups", "cups set",
                       "party plates", "party cups", "bunting set", "pinata", "cake decorations", "cake candles",
                       "sparkler", "party set", "popcorn holder"),
    "Garden": ("garden fork", "rake", "garden rake", "spirit level", "screwdriver", "tool set", "tape measure",
               "hammock", "ladder", "plant ladder", "secateurs", "spade", "wheelbarrow", "watering can", "bird house",
               "birdhouse", "bird feeder", "feeder", "bird table", "nesting box", "plant marker", "herb marker",
               "marker", "garden tools", "trowel", "seed", "seeds", "grow", "windmill", "gnome", "flytrap",
               "garden stake", "plant cage", "plant pot holder", "cloche"),
    "Bath & beauty": ("bathroom set", "toilet roll", "toilet roll holder", "soap", "soaps", "bath", "bath salts",
                      "bath bomb", "sponge", "flannel", "wash cloth", "toiletry bag", "toothbrush", "make-up bag",
                      "make up bag", "cosmetic bag", "nail file", "balm", "lip balm", "hand cream", "lotion",
                      "mirror compact", "compact mirror", "sachet", "scent", "fragrance", "perfume", "oil burner",
                      "burner", "diffuser", "essential oil", "plasters", "first aid", "lip gloss", "nail polish",
                      "manicure set", "vanity case"),
}  # fmt: skip

#: Abbreviated or variant type terms → the term shown in the ``type`` attribute.
TYPE_ALIASES: dict[str, str] = {
    "hldr": "holder", "candleholder": "candle holder", "tealight holder": "t-light holder",
    "tea light holder": "t-light holder", "tealight": "t-light", "key-chains": "key chain", "keyring": "key ring",
    "photoframe": "photo frame", "cakestand": "cake stand", "p'weight": "paperweight", "neckl.": "necklace",
    "necklace+bracelet": "necklace", "doormat": "door mat", "note book": "notebook", "sketch book": "sketchbook",
    "birdhouse": "bird house", "lunchbox": "lunch box", "doorplate": "door plate", "windchime": "wind chime",
    "hairclip": "hair clip", "hairband": "hair band", "place mat": "placemat", "lamp shade": "lampshade",
    "hat box": "hatbox", "door stop": "doorstop", "candle stick": "candlestick", "tea-towel": "tea towel",
}  # fmt: skip

#: Type terms that are often a motif rather than the product ("heart" in "heart T-light holder", "star" in
#: "paper lantern snow star"): used only when the name has no other type term.
MOTIF_TYPES = frozenset({
    "star", "heart", "angel", "fairy", "tree", "christmas tree", "bunny", "bird", "butterfly", "flower", "flowers",
    "hen", "chick", "egg", "toadstool", "doll", "reindeer", "snowflake", "icicle", "letter", "letters", "ball", "bell",
    "flag", "tag", "glass", "glasses", "tin", "tins", "string", "board", "tube", "pot", "light", "lights", "chain",
    "tape", "stem", "jewel", "bead", "beads", "charm", "charms", "slate", "kit", "reel", "file", "pad", "tile",
})  # fmt: skip

#: Phrases rewritten before keywords are looked for, so that a keyword inside them does not count
#: ("ice cream" is not the colour cream; a "tea light" is a T-light, not tea time).
PHRASES: dict[str, str] = {
    "ice cream": "ice-cream", "tea light": "t-light", "tea towel": "tea-towel",
}  # fmt: skip

#: Colour keywords → colour value (several may apply to one product).
COLOURS: dict[str, str] = {
    "red": "red", "pink": "pink", "blue": "blue", "white": "white", "black": "black", "green": "green",
    "ivory": "ivory", "cream": "cream", "gold": "gold", "silver": "silver", "purple": "purple",
    "yellow": "yellow", "orange": "orange", "brown": "brown", "grey": "grey", "gray": "grey",
    "turquoise": "turquoise", "lilac": "lilac", "amber": "amber", "aqua": "aqua", "lavender": "lavender",
    "mint": "mint", "peach": "peach", "fuchsia": "fuchsia", "magenta": "magenta", "teal": "teal", "navy": "navy",
    "beige": "beige", "burgundy": "burgundy", "coral": "coral", "copper": "copper", "bronze": "bronze",
    "multicolour": "multicolour", "rainbow": "multicolour", "pastel": "pastel", "chocolate": "brown",
    "choc": "brown", "jade": "green", "ruby": "red", "sky": "blue", "lime": "green", "rose gold": "rose gold",
    "clear": "clear", "natural": "natural", "khaki": "khaki", "violet": "violet", "scarlet": "red",
    "raspberry": "pink", "charcoal": "grey", "eau de nile": "green",
}  # fmt: skip

#: Material keywords → material value.
MATERIALS: dict[str, str] = {
    "glass": "glass", "metal": "metal", "ceramic": "ceramic", "wood": "wood", "wooden": "wood", "zinc": "zinc",
    "enamel": "enamel", "enamelled": "enamel", "paper": "paper", "felt": "felt", "feltcraft": "felt",
    "wicker": "wicker", "cotton": "cotton", "crystal": "crystal", "acrylic": "acrylic", "slate": "slate",
    "lace": "lace", "porcelain": "porcelain", "china": "china", "bone china": "china", "wire": "wire",
    "plastic": "plastic", "rubber": "rubber", "leather": "leather", "velvet": "velvet", "linen": "linen",
    "hessian": "hessian", "jute": "jute", "bamboo": "bamboo", "resin": "resin", "pearl": "pearl",
    "silk": "silk", "wool": "wool", "woollen": "wool", "knitted": "wool", "polyester": "polyester",
    "vinyl": "vinyl", "pvc": "vinyl", "iron": "iron", "cast iron": "iron", "aluminium": "aluminium",
    "stone": "stone", "straw": "straw", "rattan": "rattan", "seagrass": "seagrass", "cardboard": "cardboard",
    "oilcloth": "oilcloth", "diamante": "diamante", "stoneware": "stoneware", "terracotta": "terracotta",
    "tin": "tin", "pewter": "pewter", "brass": "brass", "steel": "steel", "stainless": "steel", "shell": "shell",
    "marble": "marble", "mosaic": "mosaic", "fabric": "fabric", "canvas": "canvas", "denim": "denim",
    "sisal": "sisal", "beaded": "beads", "glitter": "glitter", "mercury": "glass", "murano": "glass",
    "flock": "flock", "chenille": "chenille", "crochet": "crochet", "raffia": "raffia", "cork": "cork",
    "papier mache": "papier mache", "melamine": "melamine", "silicone": "silicone", "sequin": "sequins",
    "sequinned": "sequins", "filigree": "metal", "frosted": "glass", "gingham": "cotton",
}  # fmt: skip

#: Pattern keywords → pattern value.
PATTERNS: dict[str, str] = {
    "retrospot": "polka dot", "polkadot": "polka dot", "polka dot": "polka dot", "spotty": "polka dot",
    "spots": "polka dot", "spot": "polka dot", "dotty": "polka dot", "dots": "polka dot", "paisley": "paisley",
    "gingham": "gingham", "stripe": "striped", "stripes": "striped", "striped": "striped", "stripey": "striped",
    "floral": "floral", "check": "check", "checked": "check", "tartan": "tartan", "leopard": "animal print",
    "zebra": "animal print", "damask": "damask", "toile": "toile", "lattice": "lattice", "honeycomb": "honeycomb",
    "swirly": "swirl", "swirl": "swirl", "chevron": "chevron", "patchwork": "patchwork", "folkart": "folk art",
    "folk art": "folk art", "baroque": "baroque", "filigree": "filigree", "union jack": "union jack",
    "union flag": "union jack", "camouflage": "camouflage", "harlequin": "harlequin", "fair isle": "fair isle",
}  # fmt: skip

#: Theme → its keywords (occasions, styles and motifs a marketer targets).
THEMES: dict[str, tuple[str, ...]] = {
    "Christmas": ("christmas", "xmas", "santa", "reindeer", "nativity", "advent", "snowflake", "snowflakes",
                  "snowman", "snowmen", "bauble", "baubles", "noel", "elf", "mistletoe", "holly", "sleigh",
                  "icicle", "icicles", "christmas tree", "tree topper", "jingle", "father christmas", "rudolph",
                  "angel", "angels", "star of bethlehem", "scandinavian christmas", "snow"),
    "Easter": ("easter", "bunny", "bunnies", "chick", "chicks", "hen", "hens", "egg hunt", "easter egg",
               "hanging eggs", "hen on nest"),
    "Halloween": ("halloween", "witch", "pumpkin", "spooky", "trick or treat", "ghost", "bat"),
    "Love": ("love", "valentine", "valentines", "sweetheart", "cupid", "heart", "hearts", "kisses", "i love",
             "romance", "romantic"),
    "Birthday": ("birthday", "happy birthday", "birthday card", "candles set"),
    "Party": ("party", "bunting", "balloon", "balloons", "confetti", "pinata", "popcorn", "party cones"),
    "Wedding": ("wedding", "bride", "bridal", "just married", "mr and mrs", "anniversary"),
    "Vintage": ("vintage", "retro", "antique", "regency", "edwardian", "victorian", "baroque", "50's", "1950's",
                "70's", "rustic", "shabby", "old fashioned", "classic", "nostalgia", "art deco",
                "distressed", "traditional"),
    "French": ("french", "paris", "parisienne", "fleur de lys", "la vie", "bonjour", "merci"),
    "Kids": ("children", "childrens", "children's", "childs", "child's", "kids", "kid's", "baby", "babies",
             "toy", "toys", "spaceboy", "dolly girl", "jigsaw", "colouring", "crayons", "skittles", "soldier",
             "teddy", "dinosaur", "circus", "playhouse", "doll", "dolls", "school", "nursery", "charlie + lola",
             "charlie and lola", "pirate", "pirates", "princess", "alphabet", "abc", "robot", "rocket",
             "magic drawing"),
    "Garden": ("garden", "gardeners", "gardening", "watering can", "bird house", "bird table", "bird feeder",
               "plant", "herb", "herbs", "flytrap", "grow", "seed", "seeds", "toadstool", "flower pot", "greenhouse",
               "allotment", "wildflower"),
    "Baking": ("cake", "cakes", "cupcake", "cupcakes", "baking", "biscuit", "biscuits", "pastry", "jam making",
               "cookie", "cookies", "pantry", "recipe", "scone", "muffin", "bake", "cakestand", "icing"),
    "Tea time": ("tea", "teatime", "tea time", "teacup", "teapot", "coffee", "tea party", "afternoon tea"),
    "British": ("union jack", "union flag", "london", "british", "england", "english", "keep calm", "royal",
                "queen", "great britain", "bulldog", "routemaster", "double decker", "big ben", "guardsman"),
    "Seaside": ("seaside", "beach", "nautical", "shell", "shells", "anchor", "sailor", "boat", "lighthouse",
                "starfish", "seahorse", "fish", "ocean", "sea"),
    "Floral": ("flower", "flowers", "floral", "rose", "roses", "daisy", "daisies", "blossom", "botanical",
               "lavender", "tulip", "poppy", "poppies", "camellia", "orchid", "lily", "pansy", "sunflower",
               "bloom", "flora", "posy", "bouquet", "hydrangea", "peony", "chrysanthemum", "fleur"),
    "Animals": ("bird", "birds", "owl", "owls", "cat", "cats", "kitten", "dog", "dogs", "puppy", "rabbit",
                "rabbits", "butterfly", "butterflies", "b'fly", "duck", "ducks", "frog", "elephant", "monkey",
                "fox", "deer", "horse", "pig", "piggy", "sheep", "ladybird", "bee", "bees", "hedgehog", "squirrel",
                "bear", "mouse", "mice", "zebra", "giraffe", "lion", "tiger", "penguin", "swan", "robin", "chicken",
                "cockerel", "rooster", "dragonfly", "animal", "animals", "woodland", "cow", "goose", "hen", "llama",
                "flamingo", "parrot", "dolphin", "whale", "poodle", "dachshund", "squirrels"),
}  # fmt: skip

#: The attribute kinds :func:`name_attributes` can give, in the order it lists them.
ATTRIBUTE_KINDS = ("type", "colour", "material", "pattern", "theme")

_WORD = r"[a-z0-9'+.\-]"


def _term_pattern(terms: Iterable[str], plurals: bool = False) -> re.Pattern[str]:
    """Return one regex matching any of ``terms`` as whole words (longest first; optional plural ending)."""
    ending = "(?:s|es)?" if plurals else ""
    alternatives = "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))
    return re.compile(rf"(?<!{_WORD})(?:{alternatives}){ending}(?!{_WORD})")


_TYPE_CATEGORY: dict[str, str] = {term: category for category, terms in PRODUCT_TYPES.items() for term in terms}
_TYPE_PATTERN = _term_pattern(_TYPE_CATEGORY, plurals=True)
_COLOUR_PATTERN = _term_pattern(COLOURS)
_MATERIAL_PATTERN = _term_pattern(MATERIALS)
_PATTERN_PATTERN = _term_pattern(PATTERNS)
_THEME_KEYWORDS: dict[str, list[str]] = {}
for _theme, _words in THEMES.items():
    for _word in _words:
        _THEME_KEYWORDS.setdefault(_word, []).append(_theme)
_THEME_PATTERN = _term_pattern(_THEME_KEYWORDS)
_QUALIFIER = re.compile(r"\s(?:in|with|for|on)\s")
_SIZE_TOKEN = re.compile(r"^[\d.,/x*\"-]+(?:cm|mm|m|g|kg|ml|l|in|pc|pcs|w|cms)?$|^\d+(?:st|nd|rd|th|s|'s)$")


def _comparable(name: str) -> str:
    """Return a lower-case name with separators ("/", ",", "+") spaced out, for keyword matching."""
    text = " ".join(name.lower().replace("/", " / ").replace(",", " , ").replace("+", " + ").split())
    for phrase, rewritten in PHRASES.items():
        text = text.replace(phrase, rewritten)
    return text


def _display_token(token: str, first: bool) -> str:
    """Return one upper-case word in display form (see :func:`display_name`)."""
    core = token.strip("\"'*(),.!?")
    if core.upper() in UPPER_TOKENS:
        return token.replace(core, core.upper())
    lower = token.lower()
    if core.lower() in PRONOUN_I:
        return token.capitalize()
    if core.upper().startswith("T-LIGHT"):
        return lower.replace("t-light", "T-light")
    if re.fullmatch(r"[A-Za-z]\d+", core):  # paper sizes and codes such as A6, N0
        return token.upper()
    if _SIZE_TOKEN.match(core.lower()):
        return lower
    lower = _PROPER_WORD.sub(lambda m: _proper(m.group(0)), lower)
    return lower[:1].upper() + lower[1:] if first else lower


_PROPER_WORD = re.compile(r"[a-z][a-z'\-]*")


def _proper(word: str) -> str:
    """Capitalise a word (each part of a hyphenated one) when it is in :data:`PROPER_NOUNS`."""
    if word not in PROPER_NOUNS:
        return word
    return "-".join(part.capitalize() for part in word.split("-"))


def display_name(name: str) -> str:
    """Return a catalog name in sentence case for people to read.

    Rule: whitespace is collapsed and stray separators trimmed; every word is lower-cased except the first
    (capitalised), abbreviations in :data:`UPPER_TOKENS` (LED, 3D, USB, A4 …), letter-number codes (A6), the
    pronoun "I", and proper nouns in :data:`PROPER_NOUNS` (Christmas, Paris …); "T-LIGHT" becomes "T-light";
    sizes and weights ("40X40CM", "3.5G") are lower-cased.

    Args:
        name: The name as the shop records it, e.g. "WHITE HANGING HEART T-LIGHT HOLDER".

    Returns:
        The display name, e.g. "White hanging heart T-light holder"; "" for an empty name.
    """
    text = " ".join(name.replace(" ,", ",").split()).strip(" ,.-*")
    text = re.sub(r",(?=\S)", ", ", text)
    tokens = text.split(" ")
    words = [_display_token(token, i == 0) for i, token in enumerate(tokens) if token]
    shown = " ".join(words)
    return shown[:1].upper() + shown[1:]


def product_type(name: str) -> tuple[str, str] | None:
    """Return the product-type noun of a name and its category, or None when no lexicon term is in it.

    Rule: the rightmost term of :data:`PRODUCT_TYPES` (plurals included) in the part of the name before the
    first " in ", " with ", " for " or " on "; when that part has none, the rightmost term of the whole name.
    Motif words (:data:`MOTIF_TYPES`, e.g. "heart", "star") count only when no other term is found. Between two
    terms ending at the same word the longer wins ("cake stand" over "stand").

    Args:
        name: The product name (any case).

    Returns:
        (type noun, spelled out by :data:`TYPE_ALIASES` where abbreviated, and its category label), e.g.
        ("t-light holder", "Holders").
    """
    text = _comparable(name)
    cut = _QUALIFIER.search(text)
    for part in [text[: cut.start()], text] if cut else [text]:
        terms = [(m.end(), m.end() - m.start(), _lexicon_term(m.group(0))) for m in _TYPE_PATTERN.finditer(part)]
        strong = [t for t in terms if not _is_motif(t[2])]
        if strong or terms:
            term = max(strong or terms)[2]
            return TYPE_ALIASES.get(term, term), _TYPE_CATEGORY[term]
    return None


def _is_motif(term: str) -> bool:
    """Tell whether a type term (singular or plural) is a motif word (:data:`MOTIF_TYPES`)."""
    return any(form in MOTIF_TYPES for form in (term, term.removesuffix("s"), term.removesuffix("es")))


def _lexicon_term(found: str) -> str:
    """Return the lexicon term a matched word stands for (dropping a plural ending the lexicon lacks)."""
    for candidate in (found, found.removesuffix("es"), found.removesuffix("s")):
        if candidate in _TYPE_CATEGORY:
            return candidate
    raise KeyError(found)  # pragma: no cover - the pattern only matches lexicon terms


def _values(pattern: re.Pattern[str], mapping: dict[str, str] | dict[str, list[str]], text: str) -> list[str]:
    """Return the distinct values of the keywords found in ``text``, in order of appearance."""
    found: list[str] = []
    for match in pattern.finditer(text):
        value = mapping[match.group(0)]
        found += [value] if isinstance(value, str) else value
    return list(dict.fromkeys(found))


def name_attributes(name: str) -> list[str]:
    """Return a product's attributes as "name:value", derived from its name by keyword lexicons.

    Kinds, in this order: ``type`` (:func:`product_type`), ``colour`` (:data:`COLOURS`), ``material``
    (:data:`MATERIALS`), ``pattern`` (:data:`PATTERNS`) and ``theme`` (:data:`THEMES`). A keyword counts when
    it is a whole word (or words) of the name; a product may have several colours, materials or themes.

    Args:
        name: The product name (any case).

    Returns:
        e.g. ``["type:t-light holder", "colour:white", "theme:Love"]`` for "WHITE HANGING HEART T-LIGHT HOLDER".
    """
    text = _comparable(name)
    found = product_type(name)
    attributes = [f"type:{found[0]}"] if found else []
    attributes += [f"colour:{v}" for v in _values(_COLOUR_PATTERN, COLOURS, text)]
    attributes += [f"material:{v}" for v in _values(_MATERIAL_PATTERN, MATERIALS, text)]
    attributes += [f"pattern:{v}" for v in _values(_PATTERN_PATTERN, PATTERNS, text)]
    attributes += [f"theme:{v}" for v in _values(_THEME_PATTERN, _THEME_KEYWORDS, text)]
    return attributes


class Coverage(BaseModel):
    """How much of a catalog carries one kind of derived information.

    Attributes:
        products: Share of products (0–1) that have it.
        revenue: Share of revenue (0–1) of products that have it.
    """

    products: float = Field(ge=0, le=1)
    revenue: float = Field(ge=0, le=1)


class CatalogCoverage(BaseModel):
    """Measured coverage of the categories and attributes derived from product names.

    Attributes:
        products: Number of products measured.
        revenue: Revenue they earned (sum of quantity × unit price of uncancelled order lines, guests included).
        category: Share of products and of revenue with a category.
        attributes: Per attribute kind (:data:`ATTRIBUTE_KINDS`), the share with at least one such attribute.
    """

    products: int = Field(ge=0)
    revenue: float = Field(ge=0)
    category: Coverage
    attributes: dict[str, Coverage]

    def summary(self) -> str:
        """Return the coverage as one line per kind, in percent."""
        lines = [f"{self.products} products, revenue {self.revenue:,.2f}"]
        for kind, share in {"category": self.category, **self.attributes}.items():
            lines.append(f"  {kind}: {share.products:.1%} of products, {share.revenue:.1%} of revenue")
        return "\n".join(lines)


def catalog_coverage(products: pd.DataFrame, orders: pd.DataFrame) -> CatalogCoverage:
    """Measure the share of products, and of revenue, that carry a category and each attribute kind.

    Args:
        products: product_id, category (None when unknown) and attributes ("name:value" lists).
        orders: Order lines: product_id, quantity, unit_price and a bool ``cancelled``; cancelled lines earn
            nothing.

    Returns:
        The coverage of the category and of every kind in :data:`ATTRIBUTE_KINDS`.
    """
    sold = orders[~orders["cancelled"].astype(bool)]
    revenue = (sold["quantity"] * sold["unit_price"]).groupby(sold["product_id"]).sum()
    earned = products["product_id"].map(revenue).fillna(0.0).to_numpy()
    total = float(earned.sum())

    def share(has: pd.Series) -> Coverage:
        mask = has.to_numpy(dtype=bool)
        return Coverage(
            products=float(mask.mean()) if len(mask) else 0.0,
            revenue=float(earned[mask].sum() / total) if total else 0.0,
        )

    kinds = products["attributes"].map(lambda values: {str(v).split(":", 1)[0] for v in values})
    return CatalogCoverage(
        products=len(products),
        revenue=round(total, 2),
        category=share(products["category"].notna()),
        attributes={kind: share(kinds.map(lambda found, k=kind: k in found)) for kind in ATTRIBUTE_KINDS},
    )
