"""Seed realistic, deterministic demo data: a category tree and products.

Through the bridge like every write: categories are saved one by one, products go through the
bridged manager's `bulk_create`, which records their `catalog.product.created` events in one
outbox INSERT (and invalidates the cache), so read models built from events see the seed.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils.text import slugify

from catalog.models import Category, Product

CATEGORY_TREE = {
    "Electronics": ["Laptops", "Phones", "Audio", "Cameras"],
    "Home & Kitchen": ["Cookware", "Furniture", "Lighting"],
    "Sports & Outdoors": ["Cycling", "Camping", "Fitness"],
    "Books": ["Fiction", "Science", "Cooking"],
    "Fashion": ["Shoes", "Jackets", "Accessories"],
    "Toys & Games": ["Board Games", "Puzzles"],
}
ADJECTIVES = ["Classic", "Compact", "Premium", "Eco", "Ultra", "Smart", "Vintage", "Pro", "Lightweight", "Rugged"]
MATERIALS = ["Bamboo", "Steel", "Carbon", "Wool", "Leather", "Oak", "Aluminium", "Cotton", "Ceramic", "Glass"]
NOUNS = {
    "Laptops": ["Laptop", "Notebook", "Ultrabook"],
    "Phones": ["Phone", "Phone Case", "Charger"],
    "Audio": ["Headphones", "Speaker", "Earbuds"],
    "Cameras": ["Camera", "Tripod", "Lens"],
    "Cookware": ["Pan", "Pot", "Knife Set"],
    "Furniture": ["Chair", "Desk", "Shelf"],
    "Lighting": ["Lamp", "Lantern", "Light Strip"],
    "Cycling": ["Bike Helmet", "Bike Light", "Saddle"],
    "Camping": ["Tent", "Sleeping Bag", "Stove"],
    "Fitness": ["Yoga Mat", "Dumbbell", "Jump Rope"],
    "Fiction": ["Novel", "Short Stories", "Anthology"],
    "Science": ["Field Guide", "Textbook", "Atlas"],
    "Cooking": ["Cookbook", "Baking Guide", "Recipe Journal"],
    "Shoes": ["Sneakers", "Boots", "Sandals"],
    "Jackets": ["Rain Jacket", "Parka", "Vest"],
    "Accessories": ["Wallet", "Belt", "Backpack"],
    "Board Games": ["Strategy Game", "Party Game", "Chess Set"],
    "Puzzles": ["Jigsaw Puzzle", "Puzzle Cube", "Brain Teaser"],
}


# Seeded ids are deterministic, like the products': two seeded databases (a re-created test
# database, another checkout on the same Redis) then never disagree about an id a cache still holds.
SEED_NAMESPACE = uuid.UUID("6f1c1d1e-9c55-4d0f-9a57-2f3a9cbbd001")


def seeded_category_id(name: str) -> uuid.UUID:
    return uuid.uuid5(SEED_NAMESPACE, f"category:{slugify(name)}")


class Command(BaseCommand):
    help = "Seed demo categories and products (deterministic for a given --seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=300, help="How many products (default 300).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when products already exist.")

    @transaction.atomic
    def handle(self, *args: Any, products: int, seed: int, if_empty: bool, **options: Any) -> None:
        if if_empty and Product.objects.exists():
            self.stdout.write("Catalog already has products; not seeding.")
            return
        rng = random.Random(seed)
        leaves = self._categories(rng)
        new_products = []
        for index in range(products):
            leaf = leaves[index % len(leaves)]
            noun = rng.choice(NOUNS[leaf.name])
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {noun}"
            new_products.append(
                Product(
                    id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    sku=f"{slugify(leaf.name)[:4].upper()}-{seed:03d}-{index:06d}",
                    name=name,
                    description=f"{name} from our {leaf.name.lower()} range. Demo item #{index}.",
                    price=Decimal(rng.randrange(199, 250000)) / 100,
                    currency=settings.CATALOG_DEFAULT_CURRENCY,
                    stock_quantity=rng.choice([0, 0, 1, 3, 5, 8, 12, 25, 40, 100]),
                    category=leaf,
                    is_active=rng.random() > 0.05,
                )
            )
        existing = set(Product.objects.filter(sku__in=[p.sku for p in new_products]).values_list("sku", flat=True))
        Product.objects.bulk_create([p for p in new_products if p.sku not in existing], batch_size=1000)
        self.stdout.write(f"Seeded {len(new_products) - len(existing)} products in {len(leaves)} categories.")

    def _categories(self, rng: random.Random) -> list[Category]:
        leaves = []
        for top_name, children in CATEGORY_TREE.items():
            top, _ = Category.objects.get_or_create(
                slug=slugify(top_name), defaults={"name": top_name, "id": seeded_category_id(top_name)}
            )
            for child_name in children:
                child, _ = Category.objects.get_or_create(
                    slug=slugify(child_name),
                    defaults={"name": child_name, "parent": top, "id": seeded_category_id(child_name)},
                )
                leaves.append(child)
        return leaves
