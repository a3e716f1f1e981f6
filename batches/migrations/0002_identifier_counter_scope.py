from django.db import migrations, models


class Migration(migrations.Migration):
    """One identifier allocator: the counter's scope holds a facility (DIN, COI) or a product code (batch number)."""

    dependencies = [
        ("batches", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="identifiercounter", name="identifier_counter_unique"),
        migrations.RenameField(model_name="identifiercounter", old_name="facility", new_name="scope"),
        migrations.AlterField(model_name="identifiercounter", name="scope", field=models.CharField(max_length=20)),
        migrations.AddConstraint(
            model_name="identifiercounter",
            constraint=models.UniqueConstraint(fields=("kind", "scope", "year"), name="identifier_counter_unique"),
        ),
    ]
