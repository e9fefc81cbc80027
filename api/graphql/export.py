"""`python -m api.graphql.export > schema.graphql` writes the schema that frontends code against."""

from api.graphql.schema import export_schema

if __name__ == "__main__":
    print(export_schema(), end="")
