"""Creates a VPC with two subnets (two availability zones) in moto's EC2 and prints their ids as
JSON: RDS subnet groups need real subnet ids. Usage: python network.py ENDPOINT"""
import json
import sys

import boto3

ec2 = boto3.client(
    "ec2",
    endpoint_url=sys.argv[1],
    region_name="us-west-2",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
subnets = [
    ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-west-2{az}")[
        "Subnet"
    ]["SubnetId"]
    for i, az in enumerate("ab")
]
print(json.dumps({"vpc_id": vpc, "subnet_ids": subnets}))
