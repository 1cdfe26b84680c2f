"""Build models/concepts.json: each ImageNet class → the readable concepts above it in WordNet.

Run once (needs the 'concepts' extra, i.e. nltk, and Debian's wordnet-base for the WordNet 3.0 files):

    python -m training.concept_map --synsets imagenet_synsets.txt --out models/concepts.json

`imagenet_synsets.txt` is the 1000 ImageNet-1k wnids in logit order, e.g. from timm's wheel
(`timm/data/_info/imagenet_synsets.txt`). The script checks that each wnid's WordNet lemmas contain
the class name in models/imagenet_classes.txt, so the map cannot silently shift by one.

The concept words are chosen by hand (CONCEPTS below, reviewed for readability); WordNet only
decides which classes fall under each: a class belongs to a concept when the concept's synset is
among the class's hypernyms (or is the class itself).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from models.embedder import CLASSES_PATH, imagenet_classes
from models.tagger import STOPLIST

DEFAULT_WORDNET = Path("/usr/share/wordnet")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "models" / "concepts.json"

# Concept word → WordNet synsets it stands for. Broad words first, specific ones after. Left out on
# review: WordNet's vaguest nodes (device, instrumentality, covering, structure, container, equipment):
# they hold half the classes and say nothing a reader could use.
CONCEPTS: dict[str, tuple[str, ...]] = {
    # living things
    "animal": ("animal.n.01",),
    "mammal": ("mammal.n.01",),
    "dog": ("dog.n.01",),
    "hound": ("hound.n.01",),
    "terrier": ("terrier.n.01",),
    "cat": ("feline.n.01",),
    "big cat": ("big_cat.n.01",),
    "bear": ("bear.n.01",),
    "monkey": ("primate.n.02",),
    "horse": ("equine.n.01",),
    "cattle": ("bovid.n.01",),
    "wolf": ("wolf.n.01", "wild_dog.n.01", "fox.n.01"),
    "rodent": ("rodent.n.01",),
    "bird": ("bird.n.01",),
    "bird of prey": ("bird_of_prey.n.01",),
    "water bird": ("aquatic_bird.n.01",),
    "fish": ("fish.n.01",),
    "shark": ("shark.n.01",),
    "sea creature": ("aquatic_mammal.n.01", "crustacean.n.01", "mollusk.n.01", "coelenterate.n.01", "echinoderm.n.01"),
    "reptile": ("reptile.n.01",),
    "snake": ("snake.n.01",),
    "lizard": ("lizard.n.01",),
    "turtle": ("turtle.n.02",),
    "frog": ("amphibian.n.03",),
    "insect": ("insect.n.01",),
    "butterfly": ("lepidopterous_insect.n.01",),
    "spider": ("arachnid.n.01",),
    "beetle": ("beetle.n.01",),
    "flower": ("flower.n.01", "flower.n.02"),
    "plant": ("plant.n.02", "vegetable.n.01"),
    "fungus": ("fungus.n.01",),
    "person": ("person.n.01",),
    # clothing and the body
    "clothing": ("clothing.n.01",),
    "hat": ("hat.n.01", "headdress.n.01"),
    "helmet": ("helmet.n.02", "helmet.n.01"),
    "mask": ("mask.n.04", "mask.n.01", "gasmask.n.01"),
    "dress": ("dress.n.01", "gown.n.01", "robe.n.01"),
    "coat": ("coat.n.01", "cloak.n.02"),
    "swimwear": ("swimsuit.n.01", "bikini.n.02"),
    "shoe": ("footwear.n.02", "footwear.n.01"),
    "jewellery": ("jewelry.n.01", "necklace.n.01"),
    "uniform": ("military_uniform.n.01", "academic_gown.n.01"),
    "armour": ("armor.n.01", "body_armor.n.01"),
    "glasses": ("spectacles.n.01", "sunglasses.n.01", "goggles.n.01"),
    "fabric": ("fabric.n.01", "bedclothes.n.01", "rug.n.01"),
    "wig": ("wig.n.01",),
    # music and sound
    "musical instrument": ("musical_instrument.n.01",),
    "guitar": ("guitar.n.01",),
    "string instrument": ("stringed_instrument.n.01",),
    "keyboard instrument": ("keyboard_instrument.n.01",),
    "wind instrument": ("wind_instrument.n.01",),
    "brass": ("brass.n.02",),
    "drum": ("percussion_instrument.n.01",),
    "microphone": ("microphone.n.01",),
    "loudspeaker": ("loudspeaker.n.01",),
    # vehicles and machines
    "vehicle": ("vehicle.n.01",),
    "car": ("car.n.01",),
    "sports car": ("sports_car.n.01", "racer.n.02"),
    "truck": ("truck.n.01",),
    "bus": ("bus.n.01",),
    "train": ("train.n.01", "locomotive.n.01", "streetcar.n.01", "passenger_car.n.01", "freight_car.n.01"),
    "motorcycle": ("motorcycle.n.01", "moped.n.01", "motor_scooter.n.01"),
    "bicycle": ("bicycle.n.01", "unicycle.n.01", "tricycle.n.01"),
    "boat": ("boat.n.01", "ship.n.01", "vessel.n.02"),
    "sailing ship": ("sailing_vessel.n.01",),
    "aircraft": ("aircraft.n.01",),
    "spacecraft": ("spacecraft.n.01", "rocket.n.01", "missile.n.01"),
    "wheel": ("wheel.n.01",),
    "machine": ("machine.n.01",),
    "tool": ("tool.n.01",),
    "computer": ("computer.n.01", "screen.n.03", "keyboard.n.01"),
    "camera": ("camera.n.01",),
    "phone": ("telephone.n.01",),
    "clock": ("timepiece.n.01",),
    "lamp": ("lamp.n.02", "lamp.n.01", "candle.n.01", "torch.n.01"),
    "electronics": ("electronic_equipment.n.01",),
    # weapons and danger
    "weapon": ("weapon.n.01",),
    "gun": ("gun.n.01",),
    "blade": ("knife.n.01", "sword.n.01", "cleaver.n.01", "ax.n.01"),
    "chain": ("chain.n.03", "chain.n.05", "chain_mail.n.01"),
    # places and things built
    "building": ("building.n.01",),
    "house": ("house.n.01", "dwelling.n.01"),
    "church": ("place_of_worship.n.01", "altar.n.01", "bell_cote.n.01"),
    "castle": ("castle.n.02", "fortification.n.01", "palace.n.01"),
    "tower": ("tower.n.01", "beacon.n.03"),
    "shop": ("shop.n.01", "mercantile_establishment.n.01"),
    "bridge": ("bridge.n.01",),
    "monument": ("memorial.n.03", "column.n.07", "triumphal_arch.n.01", "megalith.n.01"),
    "fence": ("fence.n.01", "barrier.n.01"),
    "door": ("door.n.01", "gate.n.01", "movable_barrier.n.01"),
    "window": ("window.n.01", "window_screen.n.01"),
    "roof": ("roof.n.01", "dome.n.04", "roof.n.02"),
    "stairs": ("stairs.n.01", "stairway.n.01", "bannister.n.02"),
    "furniture": ("furniture.n.01",),
    "seat": ("seat.n.03",),
    "bed": ("bed.n.01",),
    "table": ("table.n.02",),
    # nature and landscape
    "landscape": ("geological_formation.n.01",),
    "mountain": ("mountain.n.01", "alp.n.01", "volcano.n.02"),
    "sea": ("shore.n.01", "seashore.n.01", "coral_reef.n.01", "sandbar.n.01"),
    "valley": ("valley.n.01", "ravine.n.01"),
    "cliff": ("cliff.n.01", "promontory.n.01"),
    "fruit": ("edible_fruit.n.01",),
    "vegetable": ("vegetable.n.01",),
    "food": ("food.n.01", "food.n.02", "foodstuff.n.02"),
    "dish": ("dish.n.02",),
    "sweets": ("dessert.n.01", "baked_goods.n.01"),
    "drink": ("beverage.n.01", "alcohol.n.01"),
    # objects and containers
    "bottle": ("bottle.n.01", "jar.n.01", "jug.n.01"),
    "bag": ("bag.n.04", "bag.n.01", "bag.n.06"),
    "box": ("box.n.01", "chest.n.02", "crate.n.01"),
    "vessel": ("vessel.n.03", "pot.n.01", "bowl.n.03", "cup.n.01", "glass.n.02"),
    "kitchenware": ("kitchen_utensil.n.01", "cutlery.n.02", "cooking_utensil.n.01"),
    "toy": ("plaything.n.01",),
    "ball": ("ball.n.01",),
    "sports gear": ("sports_equipment.n.01",),
    "gym": ("gymnastic_apparatus.n.01",),
    "spiral": ("coil.n.01", "spiral.n.01"),
    "net": ("net.n.02", "web.n.01", "spider_web.n.01"),
    "bubble": ("bubble.n.01", "balloon.n.01"),
}

# Classes for the cover as an object rather than what is on it (the tagger's stoplist) get no concept.
COVER_AS_OBJECT = STOPLIST


def open_wordnet(directory: Path):
    """nltk's WordNet reader on a copy of the dict folder (Debian's lacks `lexnames`; nltk wants it)."""
    import nltk
    from nltk.corpus.reader import WordNetCorpusReader

    work = Path(tempfile.mkdtemp(prefix="wordnet-"))
    target = work / "wordnet"
    shutil.copytree(directory, target)
    if not (target / "lexnames").exists():
        (target / "lexnames").write_text("".join(f"{i:02d}\t{name}\t{kind}\n" for i, (name, kind) in enumerate(LEXNAMES)))
    nltk.data.path.insert(0, str(work))

    class PlainWordNet(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None  # no mapping between WordNet versions: these files are the 3.0 the wnids name

    return PlainWordNet(str(target), None)


LEXNAMES = [
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1), ("noun.animal", 1),
    ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1), ("noun.cognition", 1), ("noun.communication", 1),
    ("noun.event", 1), ("noun.feeling", 1), ("noun.food", 1), ("noun.group", 1), ("noun.location", 1),
    ("noun.motive", 1), ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1), ("noun.plant", 1),
    ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1), ("noun.shape", 1),
    ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1), ("verb.body", 2), ("verb.change", 2),
    ("verb.cognition", 2), ("verb.communication", 2), ("verb.competition", 2), ("verb.consumption", 2),
    ("verb.contact", 2), ("verb.creation", 2), ("verb.emotion", 2), ("verb.motion", 2), ("verb.perception", 2),
    ("verb.possession", 2), ("verb.social", 2), ("verb.stative", 2), ("verb.weather", 2), ("adj.ppl", 3),
]


def build(wordnet, wnids: list[str], names: list[str]) -> dict:
    if len(wnids) != len(names):
        raise SystemExit(f"{len(wnids)} wnids but {len(names)} class names")
    wanted = {concept: {wordnet.synset(name) for name in synsets} for concept, synsets in CONCEPTS.items()}
    classes: list[list[str]] = []
    for index, (wnid, name) in enumerate(zip(wnids, names, strict=True)):
        synset = wordnet.synset_from_pos_and_offset("n", int(wnid[1:]))
        lemmas = {lemma.name().replace("_", " ").lower() for lemma in synset.lemmas()}
        if name.split(" (")[0].lower() not in lemmas:  # "crane (bird)": the name says which crane
            raise SystemExit(f"class {index}: {wnid} is {sorted(lemmas)}, not {name!r}: the orders differ")
        above = {synset} | set(synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms()))
        found = [] if name in COVER_AS_OBJECT else [c for c, targets in wanted.items() if targets & above]
        classes.append(found)
    unused = [c for c in CONCEPTS if not any(c in found for found in classes)]
    if unused:
        raise SystemExit(f"concepts no class falls under: {unused}")
    return {"source": "WordNet 3.0 hypernyms of the ImageNet-1k classes (training/concept_map.py)",
            "wnids": wnids, "classes": classes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synsets", type=Path, required=True, help="the 1000 wnids in logit order, one a line")
    parser.add_argument("--wordnet", type=Path, default=DEFAULT_WORDNET, help="WordNet 3.0 dict folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    wnids = args.synsets.read_text(encoding="utf-8").split()
    table = build(open_wordnet(args.wordnet), wnids, imagenet_classes(CLASSES_PATH))
    args.out.write_text(json.dumps(table, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    mapped = sum(1 for c in table["classes"] if c)
    print(f"wrote {args.out}: {len(CONCEPTS)} concepts, {mapped} of {len(wnids)} classes mapped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
