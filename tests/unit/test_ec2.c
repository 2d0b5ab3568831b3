/*
 * test_ec2.c - EC2 filters and DescribeInstances pages (common/ec2.h).
 *
 *   make build/asan/tests/test_ec2 && build/asan/tests/test_ec2
 *
 * filters/<row>   ec2_filters_parse() of one spec: the filters it gives
 *                 (written back with ec2_filters_describe()) and the
 *                 Filter.N.Name / Filter.N.Value.M parameters, or the error.
 * instances/<id>  one instance of a real-shaped DescribeInstances page, field
 *                 by field. The page carries the parts our parser must skip:
 *                 EBS attachTimes, ENI privateIpAddress and groupSet items,
 *                 a secondary ENI listed before the primary one.
 * pages/<row>     documents that must be refused, or give no instances.
 *
 * Expected epochs were computed independently (Python's calendar.timegm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#include "ec2.h"

#include "banned.h"


/* ---- filters ---- */

struct filter_case {
	const char *name;
	const char *spec;
	int err;
	const char *described;	/* ec2_filters_describe(), or the error message */
	const char *params;	/* "key=value&..." in order */
};

static struct filter_case filter_cases[] = {
	{ "one-tag", "tag:devcloud:role=devbox", 0, "tag:devcloud:role=devbox",
	  "Filter.1.Name=tag:devcloud:role&Filter.1.Value.1=devbox" },
	{ "header-example", "tag:devcloud:role=devbox;instance-type=t3.large,t3.xlarge", 0,
	  "tag:devcloud:role=devbox; instance-type=t3.large,t3.xlarge",
	  "Filter.1.Name=tag:devcloud:role&Filter.1.Value.1=devbox"
	  "&Filter.2.Name=instance-type&Filter.2.Value.1=t3.large&Filter.2.Value.2=t3.xlarge" },
	{ "spaces-trimmed", "  tag:team = a , b ;  instance-state-name = running  ", 0,
	  "tag:team=a,b; instance-state-name=running",
	  "Filter.1.Name=tag:team&Filter.1.Value.1=a&Filter.1.Value.2=b"
	  "&Filter.2.Name=instance-state-name&Filter.2.Value.1=running" },
	{ "empty-parts-skipped", ";;tag:a=1;;", 0, "tag:a=1", "Filter.1.Name=tag:a&Filter.1.Value.1=1" },
	{ "first-equals-ends-name", "tag:expr=a=b", 0, "tag:expr=a=b",
	  "Filter.1.Name=tag:expr&Filter.1.Value.1=a=b" },
	{ "wildcards-kept", "tag:Name=dev-*,?box", 0, "tag:Name=dev-*,?box",
	  "Filter.1.Name=tag:Name&Filter.1.Value.1=dev-*&Filter.1.Value.2=?box" },
	{ "inner-space-kept", "tag:Name=my box", 0, "tag:Name=my box",
	  "Filter.1.Name=tag:Name&Filter.1.Value.1=my box" },
	{ "ten-values", "instance-id=i-0,i-1,i-2,i-3,i-4,i-5,i-6,i-7,i-8,i-9", 0,
	  "instance-id=i-0,i-1,i-2,i-3,i-4,i-5,i-6,i-7,i-8,i-9",
	  "Filter.1.Name=instance-id&Filter.1.Value.1=i-0&Filter.1.Value.2=i-1"
	  "&Filter.1.Value.3=i-2&Filter.1.Value.4=i-3&Filter.1.Value.5=i-4&Filter.1.Value.6=i-5"
	  "&Filter.1.Value.7=i-6&Filter.1.Value.8=i-7&Filter.1.Value.9=i-8"
	  "&Filter.1.Value.10=i-9" },

	{ "empty", "", ERR_CONFIG, "INSTANCE_FILTERS is empty: it must select something", NULL },
	{ "only-separators", " ; ;", ERR_CONFIG,
	  "INSTANCE_FILTERS is empty: it must select something", NULL },
	{ "no-equals", "tag:a=1;devbox", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'devbox' has no '=' (write name=value[,value])", NULL },
	{ "no-name", " =x", ERR_CONFIG, "INSTANCE_FILTERS: filter '=x' has no name", NULL },
	{ "no-value", "tag:a= ", ERR_CONFIG, "INSTANCE_FILTERS: filter 'tag:a' has no value", NULL },
	{ "empty-value-inside", "tag:a=1,,2", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:a' has an empty value", NULL },
	{ "trailing-comma", "tag:a=1, ", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:a' has an empty value", NULL },
	{ "leading-comma", "tag:a=,1", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:a' has an empty value", NULL },
	{ "error-after-good-ones", "tag:a=1;tag:b=2;tag:c", ERR_CONFIG,
	  "INSTANCE_FILTERS: filter 'tag:c' has no '=' (write name=value[,value])", NULL },
};

static void params_join(const struct aws_params *p, struct buf *out)
{
	for (size_t i = 0; i < p->count; i++)
		buf_appendf(out, "%s%s=%s", i ? "&" : "", p->items[i].key, p->items[i].value);
}

static void test_filters(void **state)
{
	const struct filter_case *c = *state;
	struct ec2_filter_list list = EC2_FILTER_LIST_INIT;
	struct aws_params params = AWS_PARAMS_INIT;
	struct buf errmsg = BUF_INIT, described = BUF_INIT, joined = BUF_INIT;
	int err = ec2_filters_parse(c->spec, "INSTANCE_FILTERS", &list, &errmsg);

	assert_int_equal(err, c->err);
	if (err) {
		assert_string_equal(buf_cstr(&errmsg), c->described);
		assert_int_equal(list.count, 0);
		assert_null(list.items);
	} else {
		assert_string_equal(buf_cstr(&errmsg), "");
		for (size_t i = 0; i < list.count; i++) {
			assert_non_null(list.items[i].values);
			assert_null(list.items[i].values[list.items[i].value_count]);
		}
		ec2_filters_describe(&list, &described);
		assert_string_equal(buf_cstr(&described), c->described);
		ec2_filters_to_params(&list, &params);
		params_join(&params, &joined);
		assert_string_equal(buf_cstr(&joined), c->params);
	}
	ec2_filters_release(&list);
	assert_int_equal(list.count, 0);
	aws_params_release(&params);
	buf_release(&errmsg);
	buf_release(&described);
	buf_release(&joined);
}

static void test_filters_add(void **state)
{
	static const char *const states[] = { "running", "pending", NULL };
	static const char *const none[] = { NULL };
	struct ec2_filter_list list = EC2_FILTER_LIST_INIT;
	struct aws_params params = AWS_PARAMS_INIT;
	struct buf errmsg = BUF_INIT, out = BUF_INIT;

	(void)state;
	assert_int_equal(ec2_filters_parse("tag:devcloud:role=devbox", "X", &list, &errmsg), 0);
	ec2_filters_add(&list, "instance-state-name", states);
	ec2_filters_add(&list, "empty", none);
	assert_int_equal(list.count, 3);
	assert_int_equal(list.items[1].value_count, 2);
	assert_null(list.items[1].values[2]);
	assert_int_equal(list.items[2].value_count, 0);
	assert_null(list.items[2].values[0]);
	ec2_filters_describe(&list, &out);
	assert_string_equal(buf_cstr(&out),
			    "tag:devcloud:role=devbox; instance-state-name=running,pending; empty=");
	buf_reset(&out);
	aws_params_add(&params, "MaxResults", "1000");	/* appended after what is there */
	ec2_filters_to_params(&list, &params);
	params_join(&params, &out);
	assert_string_equal(buf_cstr(&out),
			    "MaxResults=1000&Filter.1.Name=tag:devcloud:role&Filter.1.Value.1=devbox"
			    "&Filter.2.Name=instance-state-name&Filter.2.Value.1=running"
			    "&Filter.2.Value.2=pending&Filter.3.Name=empty");
	ec2_filters_release(&list);
	ec2_filters_release(&list);	/* twice is harmless */
	aws_params_release(&params);
	buf_release(&errmsg);
	buf_release(&out);
}

/* ---- DescribeInstances ---- */

/* Shaped after a real eu-west-1 answer, with ids and addresses changed. */
static const char page1[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
	"    <requestId>8f7724cf-496f-496e-8fe3-4ee4b14a5e08</requestId>\n"
	"    <reservationSet>\n"
	"        <item>\n"
	"            <reservationId>r-0a1b2c3d4e5f60718</reservationId>\n"
	"            <ownerId>123456789012</ownerId>\n"
	"            <groupSet/>\n"
	"            <instancesSet>\n"
	"                <item>\n"
	"                    <instanceId>i-0a1a1a1a1a1a1a1a1</instanceId>\n"
	"                    <imageId>ami-0b9c3a5e1f2d4c6b8</imageId>\n"
	"                    <instanceState>\n"
	"                        <code>16</code>\n"
	"                        <name>running</name>\n"
	"                    </instanceState>\n"
	"                    <privateDnsName>ip-10-0-1-17.eu-west-1.compute.internal</privateDnsName>\n"
	"                    <dnsName>ec2-54-194-252-215.eu-west-1.compute.amazonaws.com</dnsName>\n"
	"                    <reason/>\n"
	"                    <keyName>dev-alice</keyName>\n"
	"                    <amiLaunchIndex>0</amiLaunchIndex>\n"
	"                    <productCodes/>\n"
	"                    <instanceType>t3.large</instanceType>\n"
	"                    <launchTime>2026-11-25T08:02:11.000Z</launchTime>\n"
	"                    <placement>\n"
	"                        <availabilityZone>eu-west-1c</availabilityZone>\n"
	"                        <groupName/>\n"
	"                        <tenancy>default</tenancy>\n"
	"                    </placement>\n"
	"                    <monitoring>\n"
	"                        <state>disabled</state>\n"
	"                    </monitoring>\n"
	"                    <subnetId>subnet-56f5f633</subnetId>\n"
	"                    <vpcId>vpc-11112222</vpcId>\n"
	"                    <privateIpAddress>10.0.1.17</privateIpAddress>\n"
	"                    <ipAddress>54.194.252.215</ipAddress>\n"
	"                    <sourceDestCheck>true</sourceDestCheck>\n"
	"                    <groupSet>\n"
	"                        <item>\n"
	"                            <groupId>sg-e4076980</groupId>\n"
	"                            <groupName>devbox</groupName>\n"
	"                        </item>\n"
	"                    </groupSet>\n"
	"                    <architecture>x86_64</architecture>\n"
	"                    <rootDeviceType>ebs</rootDeviceType>\n"
	"                    <rootDeviceName>/dev/xvda</rootDeviceName>\n"
	"                    <blockDeviceMapping>\n"
	"                        <item>\n"
	"                            <deviceName>/dev/xvda</deviceName>\n"
	"                            <ebs>\n"
	"                                <volumeId>vol-1234567890abcdef0</volumeId>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-10-01T00:00:00.000Z</attachTime>\n"
	"                                <deleteOnTermination>true</deleteOnTermination>\n"
	"                            </ebs>\n"
	"                        </item>\n"
	"                    </blockDeviceMapping>\n"
	"                    <virtualizationType>hvm</virtualizationType>\n"
	"                    <clientToken>xMcwG14507example</clientToken>\n"
	"                    <tagSet>\n"
	"                        <item>\n"
	"                            <key>Name</key>\n"
	"                            <value>alice-devbox</value>\n"
	"                        </item>\n"
	"                        <item>\n"
	"                            <key>devcloud:role</key>\n"
	"                            <value>devbox</value>\n"
	"                        </item>\n"
	"                        <item>\n"
	"                            <key>devcloud:keep-running</key>\n"
	"                            <value>2026-11-27</value>\n"
	"                        </item>\n"
	"                    </tagSet>\n"
	"                    <hypervisor>xen</hypervisor>\n"
	"                    <networkInterfaceSet>\n"
	"                        <item>\n"
	"                            <networkInterfaceId>eni-0c0c0c0c0c0c0c0c1</networkInterfaceId>\n"
	"                            <subnetId>subnet-56f5f633</subnetId>\n"
	"                            <vpcId>vpc-11112222</vpcId>\n"
	"                            <description>secondary</description>\n"
	"                            <ownerId>123456789012</ownerId>\n"
	"                            <status>in-use</status>\n"
	"                            <macAddress>02:dd:2c:5e:01:70</macAddress>\n"
	"                            <privateIpAddress>10.0.1.99</privateIpAddress>\n"
	"                            <sourceDestCheck>true</sourceDestCheck>\n"
	"                            <groupSet>\n"
	"                                <item><groupId>sg-e4076980</groupId><groupName>devbox</groupName></item>\n"
	"                            </groupSet>\n"
	"                            <attachment>\n"
	"                                <attachmentId>eni-attach-0d0d0d0d0d0d0d0d1</attachmentId>\n"
	"                                <deviceIndex>1</deviceIndex>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-11-20T10:15:00.000Z</attachTime>\n"
	"                                <deleteOnTermination>false</deleteOnTermination>\n"
	"                                <networkCardIndex>0</networkCardIndex>\n"
	"                            </attachment>\n"
	"                            <privateIpAddressesSet>\n"
	"                                <item><privateIpAddress>10.0.1.99</privateIpAddress><primary>true</primary></item>\n"
	"                            </privateIpAddressesSet>\n"
	"                            <ipv6AddressesSet/>\n"
	"                            <interfaceType>interface</interfaceType>\n"
	"                        </item>\n"
	"                        <item>\n"
	"                            <networkInterfaceId>eni-0c0c0c0c0c0c0c0c0</networkInterfaceId>\n"
	"                            <subnetId>subnet-56f5f633</subnetId>\n"
	"                            <vpcId>vpc-11112222</vpcId>\n"
	"                            <description>Primary network interface</description>\n"
	"                            <ownerId>123456789012</ownerId>\n"
	"                            <status>in-use</status>\n"
	"                            <macAddress>02:dd:2c:5e:01:69</macAddress>\n"
	"                            <privateIpAddress>10.0.1.17</privateIpAddress>\n"
	"                            <sourceDestCheck>true</sourceDestCheck>\n"
	"                            <groupSet>\n"
	"                                <item><groupId>sg-e4076980</groupId><groupName>devbox</groupName></item>\n"
	"                            </groupSet>\n"
	"                            <attachment>\n"
	"                                <attachmentId>eni-attach-0d0d0d0d0d0d0d0d0</attachmentId>\n"
	"                                <deviceIndex>0</deviceIndex>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-11-02T09:30:45.000Z</attachTime>\n"
	"                                <deleteOnTermination>true</deleteOnTermination>\n"
	"                                <networkCardIndex>0</networkCardIndex>\n"
	"                            </attachment>\n"
	"                            <association>\n"
	"                                <publicIp>54.194.252.215</publicIp>\n"
	"                                <publicDnsName>ec2-54-194-252-215.eu-west-1.compute.amazonaws.com</publicDnsName>\n"
	"                                <ipOwnerId>amazon</ipOwnerId>\n"
	"                            </association>\n"
	"                            <privateIpAddressesSet>\n"
	"                                <item><privateIpAddress>10.0.1.17</privateIpAddress><primary>true</primary></item>\n"
	"                            </privateIpAddressesSet>\n"
	"                            <ipv6AddressesSet/>\n"
	"                            <interfaceType>interface</interfaceType>\n"
	"                        </item>\n"
	"                    </networkInterfaceSet>\n"
	"                    <ebsOptimized>false</ebsOptimized>\n"
	"                    <enaSupport>true</enaSupport>\n"
	"                    <cpuOptions><coreCount>1</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions>\n"
	"                    <capacityReservationSpecification>\n"
	"                        <capacityReservationPreference>open</capacityReservationPreference>\n"
	"                    </capacityReservationSpecification>\n"
	"                    <hibernationOptions>\n"
	"                        <configured>true</configured>\n"
	"                    </hibernationOptions>\n"
	"                    <metadataOptions><state>applied</state><httpTokens>required</httpTokens></metadataOptions>\n"
	"                    <bootMode>uefi-preferred</bootMode>\n"
	"                </item>\n"
	"                <item>\n"
	"                    <instanceId>i-0b2b2b2b2b2b2b2b2</instanceId>\n"
	"                    <imageId>ami-0b9c3a5e1f2d4c6b8</imageId>\n"
	"                    <instanceState>\n"
	"                        <code>80</code>\n"
	"                        <name>stopped</name>\n"
	"                    </instanceState>\n"
	"                    <privateDnsName>ip-10-0-1-18.eu-west-1.compute.internal</privateDnsName>\n"
	"                    <dnsName/>\n"
	"                    <reason>User initiated (2026-11-24 18:00:03 GMT)</reason>\n"
	"                    <amiLaunchIndex>1</amiLaunchIndex>\n"
	"                    <productCodes/>\n"
	"                    <instanceType>m5.xlarge</instanceType>\n"
	"                    <launchTime>2026-11-24T07:00:00.000Z</launchTime>\n"
	"                    <placement><availabilityZone>eu-west-1c</availabilityZone><tenancy>default</tenancy></placement>\n"
	"                    <monitoring><state>disabled</state></monitoring>\n"
	"                    <subnetId>subnet-56f5f633</subnetId>\n"
	"                    <vpcId>vpc-11112222</vpcId>\n"
	"                    <privateIpAddress>10.0.1.18</privateIpAddress>\n"
	"                    <sourceDestCheck>true</sourceDestCheck>\n"
	"                    <stateReason>\n"
	"                        <code>Client.UserInitiatedShutdown</code>\n"
	"                        <message>Client.UserInitiatedShutdown: User initiated shutdown</message>\n"
	"                    </stateReason>\n"
	"                    <architecture>x86_64</architecture>\n"
	"                    <rootDeviceType>ebs</rootDeviceType>\n"
	"                    <rootDeviceName>/dev/xvda</rootDeviceName>\n"
	"                    <blockDeviceMapping/>\n"
	"                    <virtualizationType>hvm</virtualizationType>\n"
	"                    <tagSet/>\n"
	"                    <hypervisor>xen</hypervisor>\n"
	"                    <networkInterfaceSet>\n"
	"                        <item>\n"
	"                            <networkInterfaceId>eni-0e0e0e0e0e0e0e0e0</networkInterfaceId>\n"
	"                            <privateIpAddress>10.0.1.18</privateIpAddress>\n"
	"                            <attachment>\n"
	"                                <attachmentId>eni-attach-0f0f0f0f0f0f0f0f0</attachmentId>\n"
	"                                <deviceIndex>0</deviceIndex>\n"
	"                                <status>attached</status>\n"
	"                                <attachTime>2026-09-15T12:00:00.000Z</attachTime>\n"
	"                                <deleteOnTermination>true</deleteOnTermination>\n"
	"                            </attachment>\n"
	"                        </item>\n"
	"                    </networkInterfaceSet>\n"
	"                    <ebsOptimized>true</ebsOptimized>\n"
	"                    <hibernationOptions>\n"
	"                        <configured>false</configured>\n"
	"                    </hibernationOptions>\n"
	"                </item>\n"
	"            </instancesSet>\n"
	"        </item>\n"
	"        <item>\n"
	"            <reservationId>r-0c3c3c3c3c3c3c3c3</reservationId>\n"
	"            <ownerId>123456789012</ownerId>\n"
	"            <requesterId>940372691376</requesterId>\n"
	"            <groupSet/>\n"
	"            <instancesSet>\n"
	"                <item>\n"
	"                    <instanceId>i-0c3c3c3c3c3c3c3c3</instanceId>\n"
	"                    <imageId>ami-0d4d4d4d4d4d4d4d4</imageId>\n"
	"                    <instanceState><code>0</code><name>pending</name></instanceState>\n"
	"                    <instanceType>g5.2xlarge</instanceType>\n"
	"                    <launchTime>2026-11-25T08:05:00Z</launchTime>\n"
	"                    <tagSet>\n"
	"                        <item><key>devcloud:role</key><value>gpu</value></item>\n"
	"                        <item><key>empty</key><value/></item>\n"
	"                        <item><key>no-value</key></item>\n"
	"                        <item><value>no key: skipped</value></item>\n"
	"                    </tagSet>\n"
	"                    <hibernationOptions><configured>true</configured></hibernationOptions>\n"
	"                </item>\n"
	"            </instancesSet>\n"
	"        </item>\n"
	"    </reservationSet>\n"
	"    <nextToken>eyJ2IjoiMiIsImMiOiJsb3JlbSBpcHN1bSJ9</nextToken>\n"
	"</DescribeInstancesResponse>\n";

#define MAX_TAGS 4

struct instance_case {
	const char *id;
	const char *state;
	const char *type;
	const char *image_id;
	const char *private_ip;
	const char *public_ip;
	int64_t launch_time;
	int64_t attach_time;
	bool hibernation;
	size_t tag_count;
	struct ec2_tag tags[MAX_TAGS];
};

static struct instance_case instance_cases[] = {
	{ "i-0a1a1a1a1a1a1a1a1", "running", "t3.large", "ami-0b9c3a5e1f2d4c6b8", "10.0.1.17",
	  "54.194.252.215", 1795593731 /* 2026-11-25T08:02:11Z */,
	  1793611845 /* 2026-11-02T09:30:45Z: the primary ENI, listed second */, true, 3,
	  { { (char *)"Name", (char *)"alice-devbox" },
	    { (char *)"devcloud:role", (char *)"devbox" },
	    { (char *)"devcloud:keep-running", (char *)"2026-11-27" } } },
	{ "i-0b2b2b2b2b2b2b2b2", "stopped", "m5.xlarge", "ami-0b9c3a5e1f2d4c6b8", "10.0.1.18",
	  NULL, 1795503600 /* 2026-11-24T07:00:00Z */, 1789473600 /* 2026-09-15T12:00:00Z */,
	  false, 0, { { NULL, NULL } } },
	{ "i-0c3c3c3c3c3c3c3c3", "pending", "g5.2xlarge", "ami-0d4d4d4d4d4d4d4d4", NULL, NULL,
	  1795593900 /* 2026-11-25T08:05:00Z */, 0, true, 3,
	  { { (char *)"devcloud:role", (char *)"gpu" },
	    { (char *)"empty", (char *)"" },
	    { (char *)"no-value", (char *)"" } } },
};

static struct xml_node *page1_root;
static struct ec2_instance_list page1_list = EC2_INSTANCE_LIST_INIT;

static int page1_setup(void **state)
{
	struct buf reason = BUF_INIT;

	(void)state;
	if (xml_parse(view_from(page1), &page1_root, &reason)) {
		print_error("page1: %s\n", buf_cstr(&reason));
		buf_release(&reason);
		return -1;
	}
	buf_release(&reason);
	return ec2_parse_instances(page1_root, &page1_list) ? -1 : 0;
}

static int page1_teardown(void **state)
{
	(void)state;
	ec2_instance_list_release(&page1_list);
	xml_free(page1_root);
	return 0;
}

static void assert_opt_string(const char *got, const char *want)
{
	if (want) {
		assert_non_null(got);
		assert_string_equal(got, want);
	} else {
		assert_null(got);
	}
}

static void test_instance(void **state)
{
	const struct instance_case *c = *state;
	const struct ec2_instance *inst = NULL;
	size_t index = (size_t)(c - instance_cases);

	assert_int_equal(page1_list.count, ARRAY_SIZE(instance_cases));
	inst = &page1_list.items[index];	/* document order */
	assert_string_equal(inst->id, c->id);
	assert_string_equal(inst->state, c->state);
	assert_opt_string(inst->type, c->type);
	assert_opt_string(inst->image_id, c->image_id);
	assert_opt_string(inst->private_ip, c->private_ip);
	assert_opt_string(inst->public_ip, c->public_ip);
	assert_int_equal(inst->launch_time, c->launch_time);
	assert_int_equal(inst->attach_time, c->attach_time);
	assert_int_equal(inst->hibernation_configured, c->hibernation);
	assert_int_equal(inst->tag_count, c->tag_count);
	for (size_t i = 0; i < c->tag_count; i++) {
		assert_string_equal(inst->tags[i].key, c->tags[i].key);
		assert_string_equal(inst->tags[i].value, c->tags[i].value);
		assert_string_equal(ec2_instance_tag(inst, c->tags[i].key), c->tags[i].value);
	}
	assert_null(ec2_instance_tag(inst, "devcloud:missing"));
	assert_null(ec2_instance_tag(inst, "name"));	/* keys are case-sensitive */
}

static void test_page_next_token(void **state)
{
	(void)state;
	assert_string_equal(xml_text(page1_root, "nextToken"),
			    "eyJ2IjoiMiIsImMiOiJsb3JlbSBpcHN1bSJ9");
	assert_string_equal(xml_text(page1_root, "requestId"),
			    "8f7724cf-496f-496e-8fe3-4ee4b14a5e08");
}

/* Pages append: a second page adds to what the first one gave. */
static void test_pages_append(void **state)
{
	static const char page2[] =
		"<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
		"<requestId>2a9b0b1f-1d0e-4c1e-9d5e-1f1e1f1e1f1e</requestId>"
		"<reservationSet><item><reservationId>r-0d</reservationId><instancesSet>"
		"<item><instanceId>i-0d4d4d4d4d4d4d4d4</instanceId>"
		"<instanceState><code>16</code><name>running</name></instanceState>"
		"<launchTime>not a time</launchTime></item>"
		"</instancesSet></item></reservationSet>"
		"</DescribeInstancesResponse>";
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct xml_node *root;

	(void)state;
	assert_int_equal(ec2_parse_instances(page1_root, &list), 0);
	assert_int_equal(list.count, 3);
	assert_int_equal(xml_parse(view_from(page2), &root, NULL), 0);
	assert_int_equal(ec2_parse_instances(root, &list), 0);
	assert_int_equal(list.count, 4);
	assert_string_equal(list.items[0].id, "i-0a1a1a1a1a1a1a1a1");
	assert_string_equal(list.items[3].id, "i-0d4d4d4d4d4d4d4d4");
	assert_int_equal(list.items[3].launch_time, 0);	/* unreadable: unknown */
	assert_int_equal(list.items[3].tag_count, 0);
	assert_null(list.items[3].type);
	assert_false(list.items[3].hibernation_configured);
	xml_free(root);
	ec2_instance_list_release(&list);
	assert_null(list.items);
	assert_int_equal(list.count, 0);
	ec2_instance_list_release(&list);	/* twice is harmless */
}

/* Many instances: the list grows past its first allocation. */
static void test_many_instances(void **state)
{
	struct buf doc = BUF_INIT;
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct xml_node *root;

	(void)state;
	buf_appends(&doc, "<DescribeInstancesResponse><reservationSet>");
	for (int r = 0; r < 10; r++) {
		buf_appends(&doc, "<item><instancesSet>");
		for (int i = 0; i < 25; i++)
			buf_appendf(&doc,
				    "<item><instanceId>i-%03d</instanceId><instanceState><name>"
				    "running</name></instanceState><tagSet><item><key>n</key>"
				    "<value>%d</value></item></tagSet></item>",
				    r * 25 + i, r * 25 + i);
		buf_appends(&doc, "</instancesSet></item>");
	}
	buf_appends(&doc, "</reservationSet></DescribeInstancesResponse>");
	assert_int_equal(xml_parse(buf_view(&doc), &root, NULL), 0);
	assert_int_equal(ec2_parse_instances(root, &list), 0);
	assert_int_equal(list.count, 250);
	assert_true(list.cap >= 250);
	for (size_t i = 0; i < list.count; i++) {
		char id[32], n[32];
		snprintf(id, sizeof(id), "i-%03zu", i);
		snprintf(n, sizeof(n), "%zu", i);
		assert_string_equal(list.items[i].id, id);
		assert_string_equal(ec2_instance_tag(&list.items[i], "n"), n);
	}
	xml_free(root);
	ec2_instance_list_release(&list);
	buf_release(&doc);
}

struct page_case {
	const char *name;
	const char *doc;
	int err;
	size_t count;
};

static struct page_case page_cases[] = {
	{ "empty-reservation-set",
	  "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
	  "<requestId>r</requestId><reservationSet/></DescribeInstancesResponse>",
	  0, 0 },
	{ "no-reservation-set",
	  "<DescribeInstancesResponse><requestId>r</requestId></DescribeInstancesResponse>", 0,
	  0 },
	{ "reservation-without-instances",
	  "<DescribeInstancesResponse><reservationSet><item><reservationId>r-1</reservationId>"
	  "</item></reservationSet></DescribeInstancesResponse>",
	  0, 0 },
	{ "other-root-with-reservation-set",
	  "<RunInstancesResponse><reservationSet><item><instancesSet><item>"
	  "<instanceId>i-1</instanceId><instanceState><name>pending</name></instanceState>"
	  "</item></instancesSet></item></reservationSet></RunInstancesResponse>",
	  0, 1 },
	{ "error-document",
	  "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not "
	  "authorized to perform this operation.</Message></Error></Errors>"
	  "<RequestID>b5e5d5c5-0000-4000-8000-000000000000</RequestID></Response>",
	  ERR_PARSE, 0 },
	{ "stop-instances-response",
	  "<StopInstancesResponse><instancesSet><item><instanceId>i-1</instanceId></item>"
	  "</instancesSet></StopInstancesResponse>",
	  ERR_PARSE, 0 },
	{ "instance-without-id",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId>i-1</instanceId><instanceState><name>running</name></instanceState></item>"
	  "<item><instanceState><name>running</name></instanceState></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 1 },
	{ "instance-with-empty-id",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId></instanceId><instanceState><name>running</name></instanceState></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 0 },
	{ "instance-without-state",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId>i-1</instanceId><instanceState><code>16</code></instanceState>"
	  "<tagSet><item><key>k</key><value>v</value></item></tagSet></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 0 },
	{ "state-name-not-nested",
	  "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
	  "<item><instanceId>i-1</instanceId><name>running</name></item>"
	  "</instancesSet></item></reservationSet></DescribeInstancesResponse>",
	  ERR_PARSE, 0 },
};

static void test_page(void **state)
{
	const struct page_case *c = *state;
	struct ec2_instance_list list = EC2_INSTANCE_LIST_INIT;
	struct xml_node *root;

	assert_int_equal(xml_parse(view_from(c->doc), &root, NULL), 0);
	assert_int_equal(ec2_parse_instances(root, &list), c->err);
	/* on an error, what was appended before stays for the caller to release */
	assert_int_equal(list.count, c->count);
	ec2_instance_list_release(&list);
	xml_free(root);
}

int main(void)
{
	struct CMUnitTest instance_tests[ARRAY_SIZE(instance_cases) + 2];
	int failed;

	for (size_t i = 0; i < ARRAY_SIZE(filter_cases); i++)
		table_add("filters", filter_cases[i].name, test_filters, &filter_cases[i]);
	table_add("filters", "add-and-params", test_filters_add, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(page_cases); i++)
		table_add("pages", page_cases[i].name, test_page, &page_cases[i]);
	table_add("pages", "many-instances", test_many_instances, NULL);
	failed = table_run_group("ec2", NULL, NULL);

	/* one group parses page1 once; each instance of it is a test */
	for (size_t i = 0; i < ARRAY_SIZE(instance_cases); i++)
		instance_tests[i] = (struct CMUnitTest){ .name = instance_cases[i].id,
							 .test_func = test_instance,
							 .initial_state = &instance_cases[i] };
	instance_tests[ARRAY_SIZE(instance_cases)] =
		(struct CMUnitTest){ .name = "next-token", .test_func = test_page_next_token };
	instance_tests[ARRAY_SIZE(instance_cases) + 1] =
		(struct CMUnitTest){ .name = "pages-append", .test_func = test_pages_append };
	failed += _cmocka_run_group_tests("ec2 DescribeInstances page", instance_tests,
					  ARRAY_SIZE(instance_tests), page1_setup, page1_teardown);

	return failed ? 1 : 0;
}
