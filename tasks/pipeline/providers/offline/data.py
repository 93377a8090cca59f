"""Phrase data for the offline writer and the offline providers' other constants; no logic.

The writer draws every sentence, title, hook and heading from these banks, keyed by tone, style
and section kind; changing any of them changes the writer's (deterministic) output.
"""

WRITER_MODEL = "offline-writer-1"
IMAGE_MODEL = "offline-image-1"
COVER_SIZE = (1200, 630)

TONES = ("professional", "casual", "academic", "inspirational")
STYLES = ("technical", "narrative", "listicle", "educational", "thought_leadership")
TASK_TYPES = ("blog_post", "social_post", "newsletter")

# Template placeholders: {topic} the brief's topic, {T} the topic in title case, {pk} the primary
# keyword, {kw} one keyword, {kws} several keywords joined, {x} any of topic, primary keyword or
# keyword, {s} the topic where it is the subject of a singular verb, {aud} the audience and
# {piece} what the text calls itself ("guide", "post", "issue").

GENERAL = (
    "The most useful way to think about {x} is as a series of small, testable decisions "
    "rather than one big bet.",
    "Progress with {x} rarely comes from a single breakthrough; it comes from steady, "
    "well-documented iteration.",
    "A clear definition of success makes every later decision about {x} easier to defend.",
    "Most of the value in {x} shows up only after the basics have been done consistently "
    "for a few weeks.",
    "It helps to write down what {s} is supposed to change before measuring whether it worked.",
    "The gap between knowing about {x} and applying it well is usually a matter of habits, "
    "not information.",
    "When priorities compete, {x} deserves attention in proportion to the problem it solves.",
    "Simple checklists catch a surprising number of the errors that creep into {x}.",
    "Good results with {x} tend to compound, because each improvement makes the next one cheaper.",
    "The first version of any approach to {x} should be judged on what it teaches, not on "
    "how polished it looks.",
    "Clear ownership matters, because someone needs to be accountable for how {s} evolves.",
    "Feedback loops shorten dramatically once {s} is reviewed on a regular schedule.",
    "Context matters more than rules, so any advice about {x} should be adapted rather than "
    "copied.",
    "Small wins with {x} build the credibility needed for larger changes later.",
    "Treating {x} as a one-off project usually leads to results that fade within a quarter.",
    "A short written summary of decisions about {x} saves hours of repeated discussion.",
    "The cost of ignoring {x} tends to be invisible at first and painfully obvious later.",
    "Constraints are useful here, because a narrower scope makes {x} far easier to execute.",
    "Data helps, but judgment still decides which signals about {x} deserve a response.",
    "A shared vocabulary for {x} means less time spent arguing and more time spent improving.",
    "Every change to {x} should be small enough to reverse if it turns out to be wrong.",
    "The best time to revisit assumptions about {x} is right after a surprising result.",
    "Documentation is not glamorous, yet it keeps knowledge about {x} from walking out the door.",
    "Quality beats volume, and a few well-executed efforts on {x} outperform many rushed ones.",
    "Asking why a practice around {x} exists often reveals that it no longer serves its purpose.",
    "Momentum matters, so it is worth scheduling regular time for {x} instead of waiting for "
    "a quiet week.",
    "The people closest to the daily work usually spot problems with {x} long before any "
    "dashboard does.",
    "Clarity about trade-offs turns {x} from a vague aspiration into a concrete plan.",
    "Experiments with {x} are most informative when they change one variable at a time.",
    "Sustainable progress on {x} depends on routines that survive busy periods.",
    "A realistic timeline protects {x} from the disappointment of inflated expectations.",
    "Any serious effort on {x} benefits from a baseline measurement taken before changes begin.",
    "Simplicity is an advantage, because complicated processes around {x} get skipped under "
    "pressure.",
    "Honest retrospectives reveal more about {x} than polished status reports ever will.",
    "Knowing when to stop refining {x} is as important as knowing where to start.",
    "Integrating {x} into existing workflows beats bolting it on as a separate task.",
    "The question is rarely whether {s} matters, but how much effort it deserves right now.",
    "A consistent review cadence turns {x} from an occasional scramble into a dependable routine.",
    "Reliable results with {x} come from process first and tools second.",
    "Shared examples of good work make expectations around {x} concrete for everyone.",
    "Most setbacks with {x} trace back to unclear goals rather than poor execution.",
    "Listening to the people affected by {x} surfaces requirements that no plan anticipates.",
    "A modest budget spent deliberately on {x} often beats a large one spent reactively.",
    "Revisiting {x} every few months keeps the approach aligned with changing priorities.",
    "Good decisions about {x} are usually boring, repeatable and easy to explain.",
    "For {aud}, the practical question is which part of {x} to improve first.",
    "The needs of {aud} should shape how deeply {s} is explored and how quickly changes roll out.",
    "Patience is underrated, since the effects of {x} often take a full cycle to appear.",
    "A plan for {x} that fits on one page is far more likely to be followed than a thick manual.",
)

# Plural subjects and plural predicates combine freely into grammatical sentences, which gives
# long articles hundreds of distinct sentences without hand-writing each one.
SUBJECTS = (
    "Teams that take {x} seriously",
    "Organisations experimenting with {x}",
    "People responsible for {x}",
    "Practitioners who revisit {x} regularly",
    "Leaders who champion {x}",
    "Newcomers to {x}",
    "Experienced specialists in {x}",
    "Groups that measure {x} carefully",
    "Companies that document their approach to {x}",
    "Those who succeed with {x}",
    "Beginners exploring {x}",
    "Teams under pressure to improve {x}",
    "Small businesses investing in {x}",
    "Managers who sponsor work on {x}",
)
PREDICATES = (
    "tend to start small and expand only once the results are clear.",
    "usually find that consistency matters more than sophistication.",
    "often discover that the hardest part is agreeing on priorities.",
    "benefit from reviewing their assumptions every few months.",
    "rarely regret investing early in clear documentation.",
    "learn quickly that shortcuts create more work later.",
    "get better outcomes when they share what they learn openly.",
    "make faster progress once they define what good looks like.",
    "avoid many problems simply by asking for feedback sooner.",
    "tend to outperform peers who chase every new trend.",
    "find that a handful of reliable habits carries most of the load.",
    "are usually the first to notice when an approach stops working.",
    "gain confidence by tracking a few meaningful indicators.",
    "see the biggest gains when they remove friction rather than add features.",
    "need patience, because meaningful change takes several cycles.",
    "can avoid burnout by pacing improvements realistically.",
    "do well to write down what they expect before they begin.",
    "often underestimate how much a clear owner speeds things up.",
)

CONNECTORS = {
    "professional": (
        "In practice,",
        "For most teams,",
        "Put simply,",
        "As a rule,",
        "In our experience,",
        "Equally important,",
        "At the same time,",
        "On balance,",
        "In many cases,",
        "From a practical standpoint,",
        "Just as importantly,",
        "Over time,",
    ),
    "casual": (
        "Honestly,",
        "Here's the thing:",
        "Look,",
        "Truth be told,",
        "Spoiler:",
        "And yes,",
        "Plus,",
        "Real talk:",
        "Funny enough,",
        "Let's be real:",
        "Also,",
        "To be fair,",
    ),
    "academic": (
        "Moreover,",
        "Furthermore,",
        "Notably,",
        "In this regard,",
        "Additionally,",
        "It is worth noting that",
        "Accordingly,",
        "By extension,",
        "Empirically,",
        "Broadly speaking,",
        "As the literature suggests,",
        "In a similar vein,",
    ),
    "inspirational": (
        "Remember,",
        "Here is the exciting part:",
        "Step by step,",
        "Above all,",
        "Believe it or not,",
        "Best of all,",
        "Make no mistake,",
        "Little by little,",
        "The truth is,",
        "With a little courage,",
        "Even better,",
        "In the end,",
    ),
}

TONE_LINES = {
    "professional": (
        "A disciplined approach to {x} gives stakeholders a clear view of progress and risk.",
        "Decision-makers should weigh the operational cost of {x} against its expected return.",
        "Clear roles, realistic milestones and regular reporting keep {x} on track.",
        "Aligning {x} with business objectives ensures the effort is funded and sustained.",
        "A concise monthly update on {x} keeps leadership informed without adding overhead.",
        "The business case for {x} is strongest when it is tied to measurable outcomes.",
        "Cross-functional input early on prevents costly rework on {x} later.",
        "Standardising the core steps of {x} makes results easier to compare across teams.",
        "A simple risk register keeps the weak points of {x} visible.",
        "Budget conversations go more smoothly when the value of {x} is expressed in concrete "
        "terms.",
        "Effective governance of {x} balances oversight with room to experiment.",
        "Benchmarks from comparable organisations help set realistic targets for {x}.",
    ),
    "casual": (
        "You don't need a perfect plan for {x}; you need a decent one you'll actually follow.",
        "If {s} feels overwhelming, pick one tiny thing and do it today.",
        "You'll probably get a few things wrong at first, and that's completely fine.",
        "Think of {x} like going to the gym: showing up matters more than the perfect routine.",
        "Nobody gets {x} right on the first try, so go easy on yourself.",
        "You can skip the fancy stuff until the basics of {x} feel easy.",
        "It's okay to borrow ideas about {x} from people who've already made the mistakes.",
        "Ten spare minutes are enough to make real progress on {x}.",
        "Your future self will thank you for writing down what worked with {x}.",
        "Don't let anyone convince you that {s} has to be complicated.",
        "Keep it simple, keep it consistent, and {x} will pay off sooner than you'd think.",
        "You're allowed to ignore advice about {x} that doesn't fit your situation.",
        "Try it for a couple of weeks, then tweak whatever feels clunky.",
    ),
    "academic": (
        "The available evidence suggests that outcomes related to {x} depend heavily on "
        "implementation context.",
        "A rigorous assessment of {x} requires clearly operationalised variables and a "
        "defensible baseline.",
        "Scholarly treatments of {x} frequently distinguish between short-term effects and "
        "durable change.",
        "The relationship between {x} and observed outcomes is rarely linear and is often "
        "mediated by organisational factors.",
        "Methodological transparency is essential if conclusions about {x} are to be replicated.",
        "Existing frameworks offer a useful, if incomplete, account of how {s} operates in "
        "practice.",
        "Any generalisation about {x} should be qualified by the limits of the underlying data.",
        "Comparative analysis indicates that similar interventions in {x} yield markedly "
        "different results across settings.",
        "The conceptual boundaries of {x} remain contested, which complicates comparison "
        "between studies.",
        "A longitudinal perspective reveals dynamics in {x} that cross-sectional snapshots "
        "tend to obscure.",
        "Theoretical models of {x} are most persuasive when they generate testable predictions.",
        "Careful attention to confounding factors strengthens any claim about the effects of {x}.",
    ),
    "inspirational": (
        "Every expert in {x} was once a beginner who decided to keep going.",
        "The work you put into {x} today becomes the foundation for everything that follows.",
        "Small, brave steps with {x} add up to changes that once seemed impossible.",
        "There has never been a better moment to commit to {x}.",
        "Progress with {x} is not about perfection; it is about showing up again tomorrow.",
        "When {s} gets hard, that is usually a sign that real growth is underway.",
        "Your unique perspective is exactly what the world of {x} needs more of.",
        "Imagine where a year of steady commitment to {x} could take you.",
        "Each setback with {x} carries a lesson that makes the next attempt stronger.",
        "Great outcomes in {x} begin with the decision to start before you feel ready.",
        "The people who transform {x} are rarely the most talented; they are the most persistent.",
        "You have more power to shape {x} than you might think.",
    ),
}

STYLE_LINES = {
    "technical": (
        "Under the hood, {s} is best understood as a set of inputs, transformations and "
        "outputs that can each be inspected.",
        "Instrumenting {x} from day one makes later debugging far less painful.",
        "Idempotent, repeatable steps make {x} safer to automate.",
        "Version everything that defines the behaviour of {x}, including configuration and "
        "assumptions.",
        "Edge cases in {x} deserve explicit tests rather than optimistic assumptions.",
        "Latency, throughput and error rates are the first three signals worth tracking for {x}.",
        "A small proof of concept exposes integration problems with {x} before they become "
        "expensive.",
        "Clear interfaces between components keep changes to {x} from rippling through the "
        "whole system.",
        "Automated checks catch regressions in {x} long before users notice them.",
        "Capacity planning for {x} should assume growth, not today's load.",
        "Logging the right context makes failures in {x} reproducible instead of mysterious.",
    ),
    "narrative": (
        "Picture a small team facing {x} for the first time, with more questions than answers.",
        "The turning point often arrives quietly, in a meeting where someone finally asks the "
        "obvious question about {x}.",
        "Weeks later, the same team looked back and realised how much their view of {x} had "
        "changed.",
        "It began, as these things often do, with a problem nobody had time to solve properly.",
        "Somewhere between the first attempt and the third, {x} stopped feeling like a chore.",
        "One conversation changed the direction of the whole effort around {x}.",
        "The early results were modest, but they were enough to keep everyone curious.",
        "By the end of the quarter, the story around {x} had shifted from doubt to quiet "
        "confidence.",
        "Not every chapter of this journey was a success, and the failures taught the most.",
        "Looking back, the decisive moment was choosing to treat {x} as a long game.",
    ),
    "listicle": (
        "This one is simple, which is exactly why it gets overlooked.",
        "Tick this off early and every other item on the list becomes easier.",
        "If you only act on one point about {x}, make it this one.",
        "It sounds obvious, yet it is the step most people skip with {x}.",
        "Expect quick wins here, especially if {s} is new territory.",
        "Pair this with the previous point for the biggest effect on {x}.",
        "Revisit this item every quarter, because the right answer changes as {s} matures.",
        "A five-minute version of this tip is far better than none at all.",
        "This is where many efforts around {x} quietly stall.",
        "Bookmark this one, because it pays off again and again.",
    ),
    "educational": (
        "A useful way to learn {x} is to connect each new idea to something already familiar.",
        "Before moving on, it is worth checking that the basic terms around {x} are clear.",
        "Practising {x} on a small, low-stakes example builds understanding faster than reading "
        "alone.",
        "Mistakes are part of learning {x}, and each one clarifies how the pieces fit together.",
        "Revisiting the fundamentals of {x} after some hands-on practice often reveals new detail.",
        "Explaining {x} to someone else is one of the fastest ways to spot gaps in understanding.",
        "Concrete examples make the abstract ideas behind {x} far easier to remember.",
        "Learning {x} in short, regular sessions beats cramming everything at once.",
        "A simple summary in your own words is a good test of how well {s} has sunk in.",
        "Questions are a sign of progress, not confusion, when learning {x}.",
    ),
    "thought_leadership": (
        "The organisations that will lead on {x} are the ones willing to question their own "
        "playbook.",
        "Much of the current conversation about {x} mistakes activity for progress.",
        "The real opportunity in {x} lies where most competitors are not looking.",
        "Leaders should treat {x} as a strategic capability, not a line item.",
        "The next wave of change in {x} will reward clarity of purpose over sheer scale.",
        "Conventional metrics capture only part of the value that {x} creates.",
        "It is time to retire a few comfortable assumptions about {x}.",
        "The advantage in {x} goes to those who learn faster, not those who spend more.",
        "Betting on {x} is ultimately a bet on people, culture and patience.",
        "Industries rarely change all at once, and {s} is reshaping them one decision at a time.",
    ),
}

KIND_LINES = {
    "overview": (
        "At its core, {s} is about making deliberate choices instead of relying on habit.",
        "The field of {x} covers a broader set of practices than many people assume at first.",
        "The simplest definition of {x} is also the most useful: doing the important things "
        "on purpose.",
        "Understanding {x} starts with a handful of ideas that shape everything else.",
        "A working knowledge of {x} is enough to follow the rest of this {piece}.",
        "The basics of {x} have not changed much, even as the tools around them have.",
        "People often use the term {x} loosely, so it is worth being precise.",
        "In plain terms, {s} describes how goals, people and processes line up.",
        "The foundations of {x} are easy to state and harder to practise consistently.",
        "Three ideas come up again and again in discussions of {x}: clarity, consistency and "
        "feedback.",
        "A common misconception is that {s} is only relevant to large organisations.",
        "Seen from a distance, {s} is less a single technique than a way of working.",
    ),
    "why": (
        "The case for {x} becomes obvious once the cost of doing nothing is added up.",
        "Attention to {x} matters because it turns scattered effort into measurable progress.",
        "Ignoring {x} rarely causes an immediate crisis, which is exactly why it gets neglected.",
        "The benefits of {x} extend well beyond the team that first adopts it.",
        "For {aud}, the payoff from {x} usually shows up as time saved and fewer surprises.",
        "Investing in {x} improves both the quality of the work and the confidence of the "
        "people doing it.",
        "The strongest argument for {x} is that it makes good outcomes repeatable.",
        "Handling {x} well reduces risk while opening up new options.",
        "Attention to {x} often separates organisations that plateau from those that keep "
        "improving.",
        "There is also a human benefit, since {s} gives people clearer priorities and less rework.",
        "Over a year, the gains from {x} tend to be far larger than the initial effort suggests.",
        "Stakeholders respond well to {x} because it makes progress visible.",
    ),
    "how": (
        "Mechanically, {s} works through a cycle of planning, doing, checking and adjusting.",
        "The process behind {x} is simple to describe: set a goal, act, measure and refine.",
        "Each stage of {x} feeds information into the next, which is why sequence matters.",
        "Inputs, decisions and feedback are the three moving parts that make {x} work.",
        "Most of the heavy lifting in {x} happens before any visible output appears.",
        "The way {s} behaves in practice depends on how tightly its stages are connected.",
        "A typical cycle of {x} runs for a few weeks before its effects can be judged.",
        "Small adjustments at the start of the process have an outsized effect on {x}.",
        "Behind the scenes, {s} relies on consistent data and clear handoffs.",
        "When one stage of {x} is skipped, the problems usually surface two steps later.",
        "Understanding these mechanics makes it easier to diagnose why {s} stalls.",
        "The feedback loop is the engine of {x}, and without it effort drifts.",
    ),
    "implement": (
        "Start by choosing one measurable goal for {x} and a date to review it.",
        "The first practical step is an honest audit of how {s} is handled today.",
        "Next, map the tasks involved in {x} and assign a clear owner to each.",
        "Roll out changes to {x} in small increments so problems stay easy to trace.",
        "A pilot with a single team is the safest way to introduce {x}.",
        "Write a one-page plan for {x} that anyone can understand in five minutes.",
        "Schedule a short review after the first cycle of {x} to decide what to keep.",
        "Templates and checklists make {x} repeatable without adding bureaucracy.",
        "Automate the repetitive parts of {x} only after the manual process is stable.",
        "Share early results on {x} widely, including the disappointing ones.",
        "Build in a buffer, because the first rollout of {x} always takes longer than planned.",
        "Once the pilot works, expand {x} to adjacent teams one at a time.",
    ),
    "pitfalls": (
        "The most common mistake with {x} is trying to change everything at once.",
        "Chasing vanity metrics is an easy way to make {x} look successful while it quietly fails.",
        "Another trap is copying a competitor's approach to {x} without understanding its context.",
        "Underestimating the time needed for {x} leads to rushed work and disappointing results.",
        "Skipping documentation makes {x} fragile the moment a key person moves on.",
        "Overcomplicating {x} with too many tools creates more maintenance than value.",
        "Ignoring feedback from the people doing the work is a reliable way to derail {x}.",
        "Treating {x} as finished after launch means the gains erode within months.",
        "A lack of clear ownership leaves {x} drifting between teams.",
        "Setting targets for {x} without a baseline makes progress impossible to judge.",
        "Beware of declaring victory early, because initial gains in {x} can be misleading.",
        "Perfectionism is a quieter pitfall, delaying {x} until the moment has passed.",
    ),
    "examples": (
        "Consider a mid-sized team that applied {x} to a single recurring task and cut its "
        "turnaround time by a third.",
        "One practical example is a weekly fifteen-minute review of {x} that surfaces problems "
        "before they grow.",
        "A small business owner might apply {x} by focusing on the one process that causes the "
        "most rework.",
        "In one typical case, a team documented its approach to {x} and halved the time needed "
        "to onboard newcomers.",
        "Picture a project where {s} was introduced gradually, starting with a single pilot group.",
        "A common success story involves replacing an ad hoc approach to {x} with a simple "
        "shared checklist.",
        "For instance, tracking just two indicators for {x} can be enough to spot a trend early.",
        "Another example comes from teams that pair {x} with regular retrospectives.",
        "A marketing team, for example, might use {x} to decide which campaigns deserve a "
        "second round.",
        "Even a solo practitioner can apply {x} by keeping a simple log of decisions and outcomes.",
        "A useful exercise is to take last month's work and ask where {x} would have changed "
        "the result.",
        "Real-world results vary, but small, focused changes to {x} consistently beat sweeping "
        "ones.",
    ),
    "measure": (
        "Choose a small set of indicators for {x} and track them consistently.",
        "Leading indicators reveal whether {s} is on course long before lagging results arrive.",
        "A baseline taken before changes begin is the only honest way to judge {x}.",
        "Qualitative feedback complements the numbers and explains why {s} is or is not working.",
        "Review the metrics for {x} monthly, and resist reacting to every weekly fluctuation.",
        "Success with {x} should be defined in terms that matter to {aud}.",
        "If a metric for {x} never changes a decision, it is probably not worth tracking.",
        "Comparing results against the original goal keeps the evaluation of {x} honest.",
        "Dashboards help, but a short written commentary on {x} adds the context numbers lack.",
        "Cost, time and quality together give a balanced picture of how {s} is performing.",
        "Track both the outcomes of {x} and the effort invested to achieve them.",
    ),
    "future": (
        "Looking ahead, work on {x} is likely to become more automated and more data-driven.",
        "The next few years will probably reward those who treat {x} as an ongoing capability.",
        "Emerging tools will make parts of {x} easier, but judgment will remain essential.",
        "Expectations around {x} are rising, and what counts as good today will be the "
        "baseline tomorrow.",
        "Change in {x} tends to arrive gradually and then all at once.",
        "Staying curious about {x} is the best preparation for whatever comes next.",
        "New regulations, technologies and customer expectations will continue to reshape {x}.",
        "The fundamentals of {x} will endure even as the methods evolve.",
        "Early adopters of new approaches to {x} will set the standards others follow.",
        "Keeping an eye on adjacent fields often reveals where {s} is heading.",
        "The future of {x} belongs to teams that can learn and adapt quickly.",
    ),
    "tools": (
        "The right tools for {x} are the ones a team will actually use every day.",
        "A shared document and a simple tracker cover most needs when starting with {x}.",
        "Before buying software for {x}, clarify the process it is meant to support.",
        "Integrations matter, so tools for {x} should fit into systems people already use.",
        "Free and low-cost options are often enough for the first year of {x}.",
        "Reading lists, communities and peer groups are underrated resources for {x}.",
        "Evaluate tools for {x} against a short list of must-have requirements.",
        "Templates are the simplest tool of all, and they make {x} easier to repeat.",
        "Avoid tool sprawl, since every extra system adds maintenance to {x}.",
        "A trial period is a good chance to test a tool against real tasks before committing "
        "to it for {x}.",
    ),
    "perspective": (
        "The conventional view holds that {s} is mainly about efficiency, but that framing is "
        "too narrow.",
        "Much of the accepted wisdom about {x} was formed in very different conditions.",
        "A better mental model treats {x} as a source of learning rather than a cost to minimise.",
        "The contrarian position is that doing less with {x}, but doing it better, wins over time.",
        "Questioning a few sacred assumptions about {x} opens up surprising options.",
        "What looks like best practice in {x} is often just common practice.",
        "The debate about {x} is usually framed as a trade-off, yet the best approaches refuse "
        "that choice.",
        "Leaders who rethink {x} from first principles tend to find simpler answers.",
        "The real risk is not moving too fast on {x}, but settling for a familiar approach "
        "that no longer works.",
        "Industry narratives about {x} tend to overstate technology and understate culture.",
        "A more honest conversation about {x} would start with what has not worked.",
    ),
    "story": (
        "It started with a deadline, a small team and a vague sense that {x} could be done better.",
        "At first, nobody agreed on what {x} should even look like.",
        "The first attempt at {x} was messy, and the results were hard to read.",
        "Then came a small change that made everything else about {x} click into place.",
        "Slowly, the team built habits that made {x} feel natural rather than forced.",
        "There were setbacks, including a week when it seemed the whole effort would be abandoned.",
        "What kept things moving was a shared belief that {s} was worth getting right.",
        "By the time the results arrived, the team had already learned far more than it expected.",
        "The lesson, in hindsight, was that {s} rewards patience more than brilliance.",
        "Others noticed the change and began asking how the team had approached {x}.",
        "The story is not unusual, and that is exactly why it is worth telling.",
    ),
    "intro": (
        "By the end of this {piece}, the main ideas behind {topic} should feel concrete and "
        "usable.",
        "The sections below move from the fundamentals of {x} to practical next steps.",
        "Along the way, the discussion covers examples, common mistakes and simple ways to "
        "measure progress.",
        "Whether {s} is new territory or a familiar challenge, there is something here to act on.",
        "The aim is not to cover everything about {x}, but to focus on what makes the biggest "
        "difference.",
        "Each section stands on its own, so it is fine to jump to the part that matters most.",
        "Expect practical guidance on {x} rather than theory for its own sake.",
        "The ideas here draw on patterns that show up again and again in successful work on {x}.",
    ),
    "conclusion": (
        "The ideas above are most useful when applied one at a time and reviewed honestly.",
        "Whatever the starting point, the next step with {x} can be small and still meaningful.",
        "The essentials are simple: clear goals, consistent habits and regular feedback on {x}.",
        "For {aud}, the priority now is to choose one idea from this {piece} and put it into "
        "practice.",
        "Progress on {x} is a long game, yet every stage of it can deliver visible results.",
        "With a clear plan and realistic expectations, {s} becomes far more manageable.",
        "The best results with {x} come to those who start, measure and keep adjusting.",
        "None of this requires a large budget, only attention and a willingness to learn.",
        "Revisit this {piece} in a few months and compare the results with today's baseline.",
    ),
}

STAND_INS = ("this work", "the effort", "this area")

KEYWORD_LINES = (
    "It pays to give {kw} particular attention, because it shapes how {s} plays out day to day.",
    "Getting {kw} right is one of the quickest ways to improve results with {topic}.",
    "Any serious plan for {topic} should account for {kw}.",
    "Many people see their first tangible gains from {topic} through {kw}.",
    "It is worth understanding how {kw} connects to the broader goals of {topic}.",
    "Small improvements in {kw} often unlock bigger progress across {topic}.",
    "The role of {kw} in {topic} is easy to underestimate.",
    "A clear approach to {kw} keeps work on {topic} focused and measurable.",
    "For {aud}, {kw} is often the most practical entry point into {topic}.",
    "Paying attention to {kw} early prevents a lot of rework on {topic} later.",
    "Careful thought about {kw} is what separates a good plan for {topic} from a great one.",
    "No discussion of {topic} is complete without a close look at {kw}.",
)
MULTI_KEYWORD_LINES = (
    "Themes such as {kws} all play a part here, and each one shapes the outcome of {topic}.",
    "It is worth keeping {kws} in view, since each affects the results of {topic}.",
    "Practical work on {topic} touches {kws}, so each deserves a clear owner.",
)

# Short forms for very small targets, where every block gets a single sentence.
COMPACT_KEYWORD_LINES = (
    "Start with {kws}.",
    "Prioritise {kws} early.",
    "Small gains in {kws} add up.",
    "Watch {kws} closely.",
    "Keep {kws} in view.",
)
COMPACT_AUDIENCE_LINES = {
    "professional": "A quick briefing on {topic} for {aud}.",
    "casual": "Here's {topic} in a nutshell, for {aud}.",
    "academic": "A concise note on {topic}, addressed to {aud}.",
    "inspirational": "A short boost for {aud} working on {topic}.",
}
AUDIENCE_LINES = {
    "professional": "This {piece} is written for {aud} who want a clearer, more practical view "
    "of {topic}.",
    "casual": "If you're one of the {aud} trying to make sense of {topic}, this {piece} is for "
    "you.",
    "academic": "The discussion is addressed to {aud} seeking a rigorous yet practical account "
    "of {topic}.",
    "inspirational": "If you are among the {aud} ready to grow with {topic}, this {piece} was "
    "written with you in mind.",
}
AUDIENCE_EXTRA = (
    "For {aud}, this means focusing on the parts of {x} that change daily decisions.",
    "What {aud} need most here is a realistic sense of the effort {x} requires.",
    "The perspective of {aud} matters, because they live with the consequences of {x}.",
    "Seen through the eyes of {aud}, {s} is less about theory and more about saving time.",
)

HOOKS = {
    "technical": (
        "Getting {topic} right is as much an engineering problem as a strategic one.",
        "Behind every reliable approach to {topic} sits a set of design decisions that are easy "
        "to get wrong.",
    ),
    "narrative": (
        "It usually starts with a small frustration: something about {topic} is not working, "
        "and nobody is quite sure why.",
        "Every team has a story about {topic}, and the best ones begin with a mistake.",
    ),
    "listicle": (
        "There is no shortage of advice about {topic}, but a few ideas consistently make the "
        "biggest difference.",
        "Some of the best advice about {topic} fits on a short list, so here it is.",
    ),
    "educational": (
        "The subject of {topic} can seem complicated at first, but the core ideas are "
        "surprisingly approachable.",
        "Anyone can learn the essentials of {topic} with a clear explanation and a little "
        "practice.",
    ),
    "thought_leadership": (
        "Most conversations about {topic} focus on the wrong questions.",
        "The received wisdom about {topic} is overdue for a rethink.",
    ),
}
GREETINGS = {
    "professional": "Welcome to this edition of the newsletter.",
    "casual": "Hey there, and welcome back!",
    "academic": "Welcome to this issue of the newsletter.",
    "inspirational": "Welcome back, and thank you for being here.",
}
SIGN_OFFS = {
    "professional": "Thank you for reading, and see you in the next edition.",
    "casual": "That's it for this one, see you next time!",
    "academic": "Thank you for your attention; the next issue will continue this discussion.",
    "inspirational": "Keep going, and see you in the next issue.",
}
CALLS_TO_ACTION = {
    "professional": (
        "The next step is to agree on a single goal for {pk} and schedule the first review.",
        "Pick one recommendation on {pk}, assign an owner and measure the result within a month.",
    ),
    "casual": (
        "So pick one thing about {pk} from this {piece} and give it a go this week.",
        "Try one idea about {pk} today, and see how it feels after a week.",
    ),
    "academic": (
        "Further inquiry into {pk} should test these propositions across a wider range of "
        "contexts.",
        "Future work on {pk} would benefit from systematic comparison across settings.",
    ),
    "inspirational": (
        "Start today, start small, and let your commitment to {pk} carry you forward.",
        "Take the first step with {pk} now, because your future self is counting on it.",
    ),
}
MICRO_LINES = {
    "professional": (
        "That distinction matters.",
        "Consistency pays off.",
        "Clarity comes first.",
        "Details matter here.",
        "Keep it measurable.",
    ),
    "casual": ("Simple, right?", "Worth it.", "No pressure.", "Easy win.", "Trust the process."),
    "academic": (
        "This point merits emphasis.",
        "Context remains decisive.",
        "Nuance is essential.",
        "The implication is significant.",
    ),
    "inspirational": (
        "You can do this.",
        "Keep going.",
        "Every step counts.",
        "Start now.",
        "Believe in yourself.",
    ),
}
BULLET_LEADS = {
    "professional": (
        "A short checklist helps:",
        "In practice, that comes down to a few actions:",
        "The essentials to put in place:",
        "A practical starting point:",
    ),
    "casual": (
        "Here's a quick checklist:",
        "Try these:",
        "A few easy wins:",
        "Your short to-do list:",
    ),
    "academic": (
        "The principal considerations may be summarised as follows:",
        "Several practical implications follow:",
        "The relevant factors include:",
        "The preceding analysis suggests the following steps:",
    ),
    "inspirational": (
        "Keep these steps close:",
        "Start with these small moves:",
        "A few habits to build:",
        "Your next steps:",
    ),
}
BULLETS = (
    "Define one clear goal for {x}.",
    "Name an owner and a review date.",
    "Capture a baseline before changing anything.",
    "Keep a short log of decisions about {x}.",
    "Share results on {x}, good and bad.",
    "Review and adjust every month.",
    "Remove one source of friction at a time.",
    "Ask the people doing the work what gets in the way.",
    "Write down what {x} should achieve this quarter.",
    "Celebrate small wins to keep momentum.",
    "Automate only what is already stable.",
    "Retire practices that no longer help {x}.",
)

# Editor feedback arrives either as requests ("add more examples") or remarks ("the intro is
# too long"); each needs its own grammatical frame. {p} is the feedback point.
RESPONSES_TO_REQUESTS = (
    "To {p}, it helps to look closely at how {topic} plays out for {aud}.",
    "Readers who want to {p} can start with the everyday realities of {topic}.",
    "A good way to {p} is to ground each idea in the daily work of {aud}.",
    "Anyone hoping to {p} should begin with one concrete part of {topic}.",
)
RESPONSES_TO_REMARKS = (
    "It is fair to say that {p}, so this {piece} keeps the focus on what {aud} can use.",
    "Some readers feel that {p}, which is why the emphasis here stays on practical steps.",
    "If it seems that {p}, the quickest fix is to concentrate on what matters most to {aud}.",
)

FEEDBACK_HEADINGS = {
    "professional": "Addressing Key Questions",
    "casual": "Your Questions, Answered",
    "academic": "Further Clarifications",
    "inspirational": "Going Further",
}
IMPERATIVE_VERBS = frozenset(
    "add address avoid be clarify consider cover cut define describe discuss drop elaborate "
    "emphasise emphasize expand explain focus give highlight improve include keep make "
    "mention provide reduce remove rephrase rewrite shorten show simplify streamline "
    "strengthen tighten use write".split()
)
FEEDBACK_THEMES = {
    "examples": ("example", "case stud", "concrete", "illustrat", "real-world", "anecdote"),
    "keywords": ("keyword", "seo", "search"),
    "action": ("call to action", "cta", "conclusion", "next step", "actionable"),
    "audience": ("audience", "reader", "persona"),
    "depth": ("depth", "detail", "shallow", "vague", "specific", "data", "evidence", "deeper"),
    "structure": ("heading", "structure", "paragraph", "scan", "wall of text", "bullet"),
}

SECTION_PLANS = {
    "educational": (
        ("overview", ("What Is {T}?", "Understanding {T}", "The Basics of {T}")),
        ("why", ("Why {T} Matters", "The Benefits of Getting It Right")),
        ("how", ("Key Concepts Explained", "How It Works in Practice", "The Core Principles")),
        ("implement", ("A Step-by-Step Approach", "Getting Started", "Putting It Into Practice")),
        ("examples", ("Worked Examples", "Examples From Real Teams", "Seeing It in Action")),
        ("pitfalls", ("Common Mistakes to Avoid", "Misconceptions and Pitfalls")),
        ("measure", ("How to Measure Progress", "Tracking Your Results")),
        ("tools", ("Helpful Tools and Resources", "Resources for Going Further")),
        ("future", ("Where to Go Next", "What Comes Next")),
    ),
    "technical": (
        ("overview", ("Overview of {T}", "Architecture at a Glance")),
        ("how", ("How It Works", "How {T} Works Under the Hood")),
        ("tools", ("Key Components", "Tooling and Components")),
        ("implement", ("Implementation Details", "Setting It Up Step by Step")),
        ("measure", ("Performance and Monitoring", "Testing and Observability")),
        ("pitfalls", ("Pitfalls and Edge Cases", "Common Failure Modes")),
        ("examples", ("A Worked Example", "A Reference Scenario")),
        ("perspective", ("Trade-offs to Consider", "Design Trade-offs")),
        ("future", ("Scaling Further", "What to Improve Next")),
    ),
    "listicle": (
        ("overview", ("Start With a Clear Definition of {T}", "Get the Basics Right")),
        ("why", ("Know Why It Matters", "Tie It to a Real Goal")),
        ("implement", ("Start Small and Build Momentum", "Create a Simple Routine")),
        ("tools", ("Use the Right Tools", "Keep Your Toolkit Lean")),
        ("measure", ("Measure What Matters", "Track a Few Key Numbers")),
        ("examples", ("Learn From Real Examples", "Borrow What Works")),
        ("pitfalls", ("Avoid the Classic Mistakes", "Watch Out for Shortcuts")),
        ("how", ("Build Feedback Loops", "Review and Adjust Regularly")),
        ("future", ("Stay Ahead of What Comes Next", "Keep Learning")),
    ),
    "narrative": (
        ("story", ("Where It All Began", "The Starting Point")),
        ("pitfalls", ("The First Obstacles", "When Things Went Wrong")),
        ("how", ("The Turning Point", "A Different Approach")),
        ("implement", ("Building New Habits", "Making It Stick")),
        ("examples", ("What Changed", "The Results")),
        ("overview", ("What the Experience Reveals About {T}", "Reading Between the Lines")),
        ("measure", ("How Progress Was Measured", "Counting the Wins")),
        ("perspective", ("Lessons Learned", "What We Would Do Differently")),
        ("future", ("The Next Chapter", "Where Things Go From Here")),
    ),
    "thought_leadership": (
        ("perspective", ("The Conventional Wisdom About {T}", "Rethinking the Usual Story")),
        ("pitfalls", ("Why the Old Playbook Falls Short", "The Hidden Costs of Standing Still")),
        ("overview", ("A Better Mental Model", "Reframing the Problem")),
        ("why", ("What Is Really at Stake", "Why This Matters Now")),
        ("examples", ("Signals From the Front Line", "Early Evidence")),
        ("implement", ("What Leaders Should Do Now", "A Practical Agenda")),
        ("measure", ("Measuring What Actually Matters", "New Metrics for a New Era")),
        ("future", ("Where {T} Is Heading", "The Road Ahead")),
    ),
}
CONCLUSION_HEADINGS = {
    "educational": ("Conclusion", "Key Takeaways", "Wrapping Up"),
    "technical": ("Conclusion", "Summary and Next Steps"),
    "listicle": ("Final Thoughts", "The Bottom Line"),
    "narrative": ("Where the Story Goes Next", "Epilogue"),
    "thought_leadership": ("The Bottom Line", "Conclusion: Time to Act"),
    "newsletter": ("Until Next Time",),
    "social_post": ("The Takeaway",),
}
TITLES = {
    "educational": ("A Practical Guide to {T}", "{T}: The Essentials", "{T} Explained"),
    "technical": (
        "{T}: A Technical Deep Dive",
        "How {T} Works: An Engineer's Guide",
        "Engineering {T}: Design, Implementation and Pitfalls",
    ),
    "listicle": ("{n} Proven Ways to Master {T}", "{n} Practical Tips for {T}"),
    "narrative": ("How One Team Rethought {T}", "The Story Behind {T}", "A Year of {T}"),
    "thought_leadership": ("Rethinking {T}", "The Future of {T}", "Why {T} Needs a New Playbook"),
}
TONE_TITLES = {
    "professional": "{T}: What Works and Why",
    "casual": "{T}, Minus the Jargon",
    "academic": "{T}: A Critical Examination",
    "inspirational": "Unlocking the Potential of {T}",
}
ANGLES = {
    "educational": "A clear, practical introduction to {topic} for {aud}, built around {pk}.",
    "technical": "A technical breakdown of how {topic} works, how to implement it and where it "
    "breaks, with {pk} as the through-line.",
    "listicle": "A scannable list of the highest-impact moves in {topic}, each tied to {pk}.",
    "narrative": "The story of a team working through {topic}, drawing out lessons about {pk} "
    "for {aud}.",
    "thought_leadership": "A challenge to the conventional view of {topic}, arguing that {pk} "
    "deserves a strategic rethink.",
}
TONE_NOTES = {
    "professional": "Keep the voice confident and concise, and tie claims to business outcomes.",
    "casual": "Talk to the reader directly as 'you', use contractions and keep sentences short.",
    "academic": "Use precise, formal vocabulary and qualify claims carefully.",
    "inspirational": "Be warm and motivating, and end sections on a forward-looking note.",
}

# Headings that are not in SECTION_PLANS (for example an outline from a real model) are mapped to
# the closest kind by these hints; order matters because some hints overlap.
KIND_HINTS = (
    ("pitfalls", ("pitfall", "mistake", "avoid", "risk", "trap", "wrong", "obstacle", "fail")),
    ("overview", ("what is", "basics", "understand", "overview", "introduc", "definition")),
    ("examples", ("example", "case", "in action", "real", "result", "evidence", "scenario")),
    ("measure", ("measur", "metric", "track", "monitor", "performance", "kpi", "test")),
    ("future", ("future", "next", "ahead", "trend", "scal", "road", "keep learning")),
    ("tools", ("tool", "resource", "component", "stack", "software")),
    ("implement", ("step", "start", "implement", "practice", "set up", "setup", "build", "habit")),
    ("how", ("how", "works", "turning point", "approach", "principle", "concept", "loop")),
    ("why", ("why", "matter", "benefit", "stake", "value", "goal")),
    ("perspective", ("rethink", "conventional", "wisdom", "lesson", "model", "myth", "trade")),
    ("story", ("began", "beginning", "starting point", "story", "journey")),
)
CONCLUSION_HINTS = ("conclusion", "final thought", "takeaway", "wrapping up", "bottom line")

_SMALL_WORDS = frozenset(
    "a an and as at but by for from in into of on or the to vs via with".split()
)
_CONTRACTIONS = (
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("is not", "isn't"),
    ("are not", "aren't"),
    ("cannot", "can't"),
    ("will not", "won't"),
    ("it is", "it's"),
    ("that is", "that's"),
    ("there is", "there's"),
    ("you are", "you're"),
    ("you will", "you'll"),
    ("they are", "they're"),
    ("we are", "we're"),
)

# Topic shapes (see shapes.py). Titles: {T} is the topic as a title.
SHAPE_TITLES = {
    "question": ("{T}", "{T} A Practical Answer"),
    "howto": ("{T}", "{T}: A Step-by-Step Guide", "{T}: A Practical Guide"),
    "list": ("{T}",),
}
# The introduction's opening for each shape: {question} the topic as asked, {clause} the topic as
# a clause ("how to compost in an apartment"), {items} a list topic as written mid-sentence.
QUESTION_FOLLOW_UPS = (
    "It is a fair question, and the answer is more practical than it first appears.",
    "It is a question {aud} ask often, and it deserves a clear, practical answer.",
    "The answer matters more than it might seem, and it is simpler than the debate suggests.",
)
CLAUSE_OPENERS = {
    "question": ("This {piece} looks at {clause} and what that means in practice.",),
    "howto": (
        "This {piece} shows {clause}, one practical step at a time.",
        "Knowing {clause} is easier than it looks once the steps are laid out in order.",
    ),
}
LIST_OPENERS = (
    "Below are {items}, each one practical enough to act on this week.",
    "Here are {items}, in the order most {aud} will find useful.",
)
LIST_LEADS = {
    "professional": "Here is the list at a glance:",
    "casual": "Here's the whole list:",
    "academic": "The items, in order, are as follows:",
    "inspirational": "Here is your list:",
}
LIST_GLANCE_HEADINGS = ("The List at a Glance", "The Short Version")
# Item headings for list topics ("7 ways to ..."), by what the items are; each names the kind
# of section its sentences come from. Up to 30 items per bank.
LIST_ITEMS = {
    "actions": (
        ("overview", "Start With a Clear Definition"),
        ("why", "Tie Every Effort to a Real Goal"),
        ("implement", "Start Small and Build Momentum"),
        ("implement", "Create a Simple Routine"),
        ("tools", "Use the Right Tools"),
        ("measure", "Measure What Matters"),
        ("examples", "Learn From Real Examples"),
        ("pitfalls", "Avoid the Classic Mistakes"),
        ("how", "Build Feedback Loops"),
        ("future", "Keep Learning"),
        ("implement", "Write the Plan Down"),
        ("implement", "Name a Clear Owner"),
        ("how", "Automate the Repetitive Parts"),
        ("why", "Make Progress Visible"),
        ("implement", "Protect Time on the Calendar"),
        ("examples", "Share Results Openly"),
        ("how", "Change One Thing at a Time"),
        ("pitfalls", "Know When to Stop"),
        ("implement", "Ask the People Doing the Work"),
        ("measure", "Set a Baseline First"),
        ("perspective", "Question Old Assumptions"),
        ("implement", "Celebrate Small Wins"),
        ("tools", "Lean on Templates and Checklists"),
        ("implement", "Set a Realistic Pace"),
        ("perspective", "Focus on Fewer Things"),
        ("tools", "Keep Your Toolkit Lean"),
        ("measure", "Track a Few Key Numbers"),
        ("examples", "Borrow What Already Works"),
        ("how", "Review and Adjust Regularly"),
        ("future", "Plan for What Comes Next"),
    ),
    "mistakes": (
        ("pitfalls", "Trying to Change Everything at Once"),
        ("measure", "Chasing Vanity Metrics"),
        ("pitfalls", "Copying Someone Else's Playbook"),
        ("implement", "Underestimating the Time Involved"),
        ("tools", "Skipping the Documentation"),
        ("tools", "Overcomplicating the Tooling"),
        ("how", "Ignoring Feedback From the Front Line"),
        ("future", "Treating Launch as the Finish Line"),
        ("implement", "Leaving Ownership Unclear"),
        ("measure", "Setting Targets Without a Baseline"),
        ("measure", "Declaring Victory Too Early"),
        ("pitfalls", "Waiting for Perfection"),
        ("measure", "Measuring Everything and Acting on Nothing"),
        ("implement", "Skipping the Pilot"),
        ("tools", "Automating a Broken Process"),
        ("examples", "Working in Isolation"),
        ("overview", "Neglecting the Basics"),
        ("implement", "Starting Without a Plan"),
        ("why", "Ignoring the Real Costs"),
        ("why", "Forgetting Who It Is For"),
        ("how", "Skipping the Review Step"),
        ("pitfalls", "Assuming One Size Fits All"),
        ("perspective", "Following Trends Blindly"),
        ("examples", "Hiding Bad News"),
        ("implement", "Overloading the Team"),
        ("future", "Never Revisiting Old Decisions"),
        ("overview", "Using Vague Language"),
        ("why", "Losing Sight of the Goal"),
        ("measure", "Trusting Gut Feel Over Evidence"),
        ("pitfalls", "Giving Up Too Soon"),
    ),
    "reasons": (
        ("why", "It Saves Time"),
        ("why", "It Reduces Risk"),
        ("measure", "It Makes Progress Visible"),
        ("examples", "It Works at Any Scale"),
        ("how", "It Builds Better Habits"),
        ("implement", "It Is Easy to Start"),
        ("why", "It Pays for Itself"),
        ("future", "It Prepares You for What Comes Next"),
        ("perspective", "It Changes How Teams Think"),
        ("why", "It Improves Quality"),
        ("examples", "It Creates Shared Understanding"),
        ("how", "It Shortens Feedback Loops"),
        ("why", "It Reduces Stress"),
        ("measure", "It Turns Guesswork Into Evidence"),
        ("implement", "It Fits Into Existing Work"),
        ("future", "It Keeps You Competitive"),
        ("how", "It Makes Decisions Easier"),
        ("why", "It Frees Up Attention"),
        ("examples", "It Has a Proven Track Record"),
        ("perspective", "It Rewards Curiosity"),
        ("implement", "It Needs Little Budget"),
        ("how", "It Surfaces Problems Early"),
        ("why", "It Builds Trust"),
        ("future", "It Compounds Over Time"),
        ("measure", "It Is Easy to Measure"),
        ("examples", "It Helps Newcomers Learn Faster"),
        ("perspective", "It Challenges Comfortable Habits"),
        ("how", "It Connects Effort to Outcomes"),
        ("why", "It Makes Work More Satisfying"),
        ("future", "It Opens New Options"),
    ),
}

# The line crediting the sources the research stage read ({sources}: Markdown links).
CREDIT_LINES = {
    "professional": "This {piece} draws on {sources}.",
    "casual": "Thanks to {sources} for the background.",
    "academic": "Sources consulted: {sources}.",
    "inspirational": "With thanks to {sources}, which informed this {piece}.",
}
