"""Word lists the topic-shape parser needs; no logic.

The parser has no part-of-speech tagger, so it leans on these small closed lists (question
words, auxiliaries, determiners, prepositions), a list of common base-form verbs and a list of
proper nouns that keep their capital letter inside a sentence.
"""

QUESTION_WORDS = frozenset("what why how when where who which whose whom".split())
BE = frozenset("is are was were".split())
DO = frozenset("do does did".split())
MODALS = frozenset("can could should would will shall may might must".split())
HAVE = frozenset("has have had".split())
AUXILIARIES = BE | DO | MODALS | HAVE
CONTRACTED = {"what's": ("what", "is"), "how's": ("how", "is"), "who's": ("who", "is")}
PRONOUNS = frozenset("i we you they one".split())
DETERMINERS = frozenset(
    "a an the this that these those my our your their his her its every each some any".split()
)
# Possessives in a how-to ("How we cut our AWS bill") read as advice to the reader.
POSSESSIVE_SWAP = {"our": "your", "my": "your", "ours": "yours", "mine": "yours"}
PREPOSITIONS = frozenset(
    "in on at by for with without from into onto over under across through during before "
    "after within between about against to of as via like per around beyond toward towards "
    "when while if so because where using than until despite and or but that which who "
    "instead even".split()
)
# Words that start the predicate of "Is/Why is <subject> <predicate>?" questions.
PREDICATE_STARTERS = frozenset(
    "so too very really still always often never now more less worth important hard difficult "
    "easy easier harder necessary useful popular expensive cheap cheaper slow slower fast faster "
    "better worse dead overrated underrated good bad possible safe dangerous ready enough here "
    "there different right wrong such a an the not just becoming getting finally actually "
    "failing growing changing worth-it secure reliable sustainable profitable essential "
    "obsolete relevant healthy risky complex complicated simple free".split()
)
PLURAL_IRREGULAR = frozenset("people children men women teeth feet mice geese staff".split())
SINGULAR_IN_S = ("ss", "us", "is", "ics", "news", "series", "species", "ous", "sis")

NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "dozen": 12,
}
# Heads of list topics ("7 ways ...") and which bank of item headings suits them.
MISTAKE_HEADS = frozenset(
    "mistakes errors pitfalls traps myths misconceptions sins signs flags problems blunders".split()
)
REASON_HEADS = frozenset("reasons benefits advantages arguments".split())
# Wrappers around the real subject: "A beginner's guide to X" is about X.
GUIDE_WRAPPERS = (
    "a beginner's guide to",
    "the beginner's guide to",
    "beginner's guide to",
    "a complete guide to",
    "the complete guide to",
    "the ultimate guide to",
    "a practical guide to",
    "a guide to",
    "the guide to",
    "guide to",
    "an introduction to",
    "introduction to",
    "a primer on",
    "primer on",
    "getting started with",
    "understanding",
)
# Aspects whose heading subject is what follows "of": "The future of remote work".
ASPECT_HEADS = frozenset(
    "future rise history state cost costs benefits importance role ethics science art basics "
    "economics psychology power case fundamentals anatomy".split()
)
IRREGULAR_GERUNDS = {
    "be": "being",
    "see": "seeing",
    "flee": "fleeing",
    "agree": "agreeing",
    "free": "freeing",
    "die": "dying",
    "lie": "lying",
    "tie": "tying",
    "panic": "panicking",
}
DOUBLED_FINAL = frozenset(
    "begin forget refer prefer admit commit submit omit permit control patrol regret upset "
    "equip occur quit rebel compel propel expel transmit deter".split()
)
IRREGULAR_PAST = {
    "built": "build",
    "made": "make",
    "grew": "grow",
    "ran": "run",
    "went": "go",
    "took": "take",
    "got": "get",
    "wrote": "write",
    "kept": "keep",
    "left": "leave",
    "lost": "lose",
    "met": "meet",
    "paid": "pay",
    "sold": "sell",
    "spent": "spend",
    "won": "win",
    "chose": "choose",
    "broke": "break",
    "brought": "bring",
    "bought": "buy",
    "thought": "think",
    "taught": "teach",
    "found": "find",
    "gave": "give",
    "began": "begin",
    "became": "become",
    "rebuilt": "rebuild",
    "learnt": "learn",
    "led": "lead",
    "shipped": "ship",
}
THIRD_PERSON_IRREGULAR = {"have": "has", "do": "does", "go": "goes", "be": "is"}

VERBS = frozenset(
    """
    accelerate accept access achieve adapt add adjust adopt advertise afford align allocate
    analyse analyze answer apply approach architect argue arrange ask assess attract audit
    automate avoid back bake balance bank become begin believe benchmark benefit beat blog book
    boost break brew bring budget build burn buy calculate call care carry catch cause change
    charge chart check choose clean clear close coach code collaborate collect combine come
    commit communicate compare compete compost compute configure connect consider contribute
    control convert cook coordinate cope cost count craft create cultivate cure cut debug decide
    decrease define delegate deliver deploy design detect develop die differ digitize discover
    do document double draft draw dress drink drive drop earn eat edit educate eliminate embrace
    enable encourage end engage engineer enjoy ensure enter escape estimate evaluate evolve
    exercise expand expect experiment explain explore export fail fall feed feel fight fill
    find finish fit fix focus follow forecast forget form foster freeze fund garden gather get
    give go govern grow guide handle happen harvest hate have heal hear help hire hold host
    hurt identify ignore implement import improve include increase index influence inform
    innovate insist inspect install insure integrate interview invest invite iterate join
    judge jump keep kill know label land last launch lead learn leave lend let level leverage
    lift limit listen live load lock log look lose love maintain make manage map market master
    matter measure meet mentor merge migrate mind minimise minimize miss mitigate model monitor
    motivate move name navigate need negotiate network notice nurture observe obtain offer
    onboard open operate optimise optimize order organise organize outsource overcome own pack
    paint partner pass pay perform persuade pick pitch place plan plant play position post
    practise practice predict prepare present prevent price prioritise prioritize process
    produce profile program promote propagate protect prototype prove provide publish pull
    purchase push put qualify question quit raise rank reach read recover recruit recycle
    reduce refactor refine regulate release rely remember remove render repair repeat replace
    report represent require rescue research reset resolve respond rest restore retain rethink
    retire return reuse review revive rewrite ride rise run save scale schedule score scrape
    search secure see seed segment select sell send serve set settle share ship shop shrink
    sign simplify sit size skip sleep slow smell solve sort source speak specialise specialize
    speed spend split sponsor spot spread stand start stay steal stop store stream strengthen
    structure struggle study succeed suffer suggest supply support survive sustain switch
    take talk target teach tell template test think thrive track trade train transform
    translate travel treat trust try tune turn understand unlock update upgrade use validate
    value verify visit visualise visualize wait walk want warm wash waste watch water win
    work worry write
    """.split()
)

# Names that keep their capital letter even where the topic's first word is lowercased.
PROPER_NOUNS = frozenset(
    """
    android apple ansible aws azure bitcoin chatgpt chrome django docker dropbox
    elasticsearch england english ethereum europe european excel facebook figma firefox flask
    france french gcp german germany git github gitlab gmail google graphql hubspot instagram
    ios iphone java javascript jenkins jira kafka kotlin kubernetes laravel linkedin linux
    mac macos microsoft mongodb mysql netflix nginx node notion openai oracle pinterest postgres
    postgresql powerpoint python rails react reddit redis ruby rust salesforce scala shopify
    slack snowflake spain spanish spotify sql stripe swift tableau terraform tiktok twitter
    typescript ubuntu unity vue windows wordpress youtube zoom january february march april may
    june july august september october november december monday tuesday wednesday thursday
    friday saturday sunday christmas easter ramadan
    """.split()
)
